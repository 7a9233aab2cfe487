import { Body, Controller, Get, HttpCode, Param, Post, Query, Req, UseGuards } from '@nestjs/common';
import { z } from 'zod';
import { notFound, parseRequest } from '@app/platform';
import { AuditLog } from '../audit/audit-log';
import { SessionGuard, type SessionRequest } from '../session/session.guard';
import { expectOk, UpstreamClient } from '../upstream';
import { describe, type FailedMessage, groupFailures, type ListedDeadLetter } from './grouping';

/** The services that dead-letter: the bus consumers, and Analytics (the records it parked from its Kafka dead-letter topic). */
const SERVICES = ['order', 'payment', 'inventory', 'notification', 'analytics'] as const;
type Service = (typeof SERVICES)[number];
/** How many dead letters of each service the console reads (the admin API lists up to 200 a page). */
const MAX_PER_SERVICE = 1000;

const deadLetterId = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9:._-]+$/, 'a dead-letter id as listed');
const selection = z
  .object({
    items: z
      .array(z.object({ service: z.enum(SERVICES), id: deadLetterId }).strict())
      .min(1, 'at least one')
      .max(500, 'at most 500 at once'),
  })
  .strict();

@Controller('api/failed-messages')
@UseGuards(SessionGuard)
export class FailedMessagesHttp {
  constructor(
    private readonly upstream: UpstreamClient,
    private readonly audit: AuditLog,
  ) {}

  /** Every service's dead letters in one list, grouped by failure. */
  @Get()
  async list(@Query() query: unknown) {
    parseRequest(z.object({}).strict(), query);
    const messages = await this.all();
    return { count: messages.length, groups: groupFailures(messages) };
  }

  @Get(':service/:id')
  async show(@Param('service') service: string, @Param('id') id: string) {
    const s = parseRequest(z.enum(SERVICES), service, 'service');
    const key = parseRequest(deadLetterId, id, 'id');
    const reply = await this.upstream.call<ListedDeadLetter>(s, 'GET', `/api/admin/dead-letters/${key}`);
    if (reply.status === 404) throw notFound(`dead letter ${key} of ${s}`);
    const retries = await this.retries();
    return describe(s, expectOk(s, reply), (m) => retries.get(m) ?? 0);
  }

  /** Each one back to the queue it was dead-lettered from (Analytics: its retry topic); its attempts start again. */
  @Post('retry')
  @HttpCode(200)
  async retry(@Body() body: unknown, @Req() req: SessionRequest) {
    return this.each(parseRequest(selection, body ?? {}), req, 'retry', (s, id) => this.upstream.call(s, 'POST', `/api/admin/dead-letters/${id}/replay`));
  }

  @Post('delete')
  @HttpCode(200)
  async remove(@Body() body: unknown, @Req() req: SessionRequest) {
    return this.each(parseRequest(selection, body ?? {}), req, 'delete', (s, id) => this.upstream.call(s, 'DELETE', `/api/admin/dead-letters/${id}`));
  }

  private async each(
    sel: z.infer<typeof selection>,
    req: SessionRequest,
    action: 'retry' | 'delete',
    call: (service: Service, id: string) => Promise<{ status: number }>,
  ) {
    // What each message was, for the audit line (its type and message id outlive the dead letter).
    const known = new Map((await this.all()).map((m) => [`${m.service}/${m.id}`, m]));
    const results: Array<{ service: Service; id: string; result: string }> = [];
    for (const item of sel.items) {
      const m = known.get(`${item.service}/${item.id}`);
      let result: string;
      try {
        const reply = await call(item.service, item.id);
        result = reply.status === 200 ? (action === 'retry' ? 'replayed' : 'deleted') : reply.status === 404 ? 'not found' : `failed (${reply.status})`;
      } catch (error) {
        result = `failed (${error instanceof Error ? error.message : String(error)})`.slice(0, 200);
      }
      results.push({ ...item, result });
      await this.audit.record({
        actor: req.session!.actor,
        action,
        target: `${item.service} dead letter ${item.id}${m ? ` (${m.messageType}${m.orderId ? ` of order ${m.orderId}` : ''})` : ''}`,
        result,
        ...(m?.messageId ? { messageId: m.messageId } : {}),
      });
    }
    return { results };
  }

  private async all(): Promise<FailedMessage[]> {
    const retries = await this.retries();
    const lists = await Promise.all(
      SERVICES.map(async (service) => {
        const out: ListedDeadLetter[] = [];
        let cursor: string | null | undefined;
        do {
          const page = await this.upstream.ok<{ items: ListedDeadLetter[]; nextCursor?: string | null }>(
            service,
            'GET',
            `/api/admin/dead-letters?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
          );
          out.push(...page.items);
          cursor = page.nextCursor;
        } while (cursor && out.length < MAX_PER_SERVICE);
        return out.map((d) => describe(service, d, (id) => retries.get(id) ?? 0));
      }),
    );
    return lists.flat();
  }

  /** Retries per message id, counted from the audit log (replay gives a dead letter a new id). */
  private async retries(): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (const e of await this.audit.latest(10_000)) {
      if (e.action === 'retry' && e.result === 'replayed' && e.messageId) counts.set(e.messageId, (counts.get(e.messageId) ?? 0) + 1);
    }
    return counts;
  }
}
