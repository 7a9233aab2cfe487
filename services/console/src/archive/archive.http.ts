import { Body, Controller, Get, HttpCode, Param, Post, Query, Req, UseGuards } from '@nestjs/common';
import { z } from 'zod';
import { parseRequest } from '@app/platform';
import { AuditLog } from '../audit/audit-log';
import { SessionGuard, type SessionRequest } from '../session/session.guard';
import { expectOk, UpstreamClient } from '../upstream';

const topic = z
  .string()
  .max(200)
  .regex(/^[A-Za-z0-9._-]+$/, 'a topic name');
const listQuery = z
  .object({
    date: z
      .string()
      .regex(/^\d{4}(\/\d{2}(\/\d{2}(\/\d{2})?)?)?$/, 'yyyy, yyyy/MM, yyyy/MM/dd or yyyy/MM/dd/HH')
      .optional(),
    topic: topic.optional(),
    partition: z.coerce.number().int().min(0).max(10_000).optional(),
    continuationToken: z
      .string()
      .max(2048)
      .regex(/^[A-Za-z0-9+/=_.-]+$/, 'as returned')
      .optional(),
  })
  .strict();
const blobName = z
  .string()
  .max(300)
  .regex(/^events\/[A-Za-z0-9/._-]+\.ndjson\.gz$/, 'an archive blob name as listed')
  .refine((n) => !n.includes('..'), 'no ..');
/** Bounds only: Analytics refuses a scope that does not hang together (its 400 names the field). */
const offset = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional();
const verifyBody = z
  .object({ topic: topic.optional(), partition: z.number().int().min(0).max(10_000).optional(), fromOffset: offset, toOffset: offset })
  .strict();

interface Blob {
  name: string;
  topic?: string;
  partition?: number;
}
/** Events shown of one blob; a blob holds a few thousand at most, the page needs fewer. */
const MAX_EVENTS = 1000;

@Controller('api/archive')
@UseGuards(SessionGuard)
export class ArchiveHttp {
  constructor(
    private readonly upstream: UpstreamClient,
    private readonly audit: AuditLog,
  ) {}

  /** Blobs by date (a prefix of the blob path), topic and partition. */
  @Get('blobs')
  async blobs(@Query() query: unknown) {
    const q = parseRequest(listQuery, query);
    const params = new URLSearchParams({ limit: '1000', prefix: q.date ?? '' });
    if (q.continuationToken) params.set('continuationToken', q.continuationToken);
    const page = await this.upstream.ok<{ items: Blob[]; continuationToken?: string }>('analytics', 'GET', `/api/analytics/archives?${params}`);
    const items = page.items.filter((b) => (q.topic === undefined || b.topic === q.topic) && (q.partition === undefined || b.partition === q.partition));
    return { items, continuationToken: page.continuationToken ?? null };
  }

  @Get('events')
  async events(@Query() query: unknown) {
    const { name } = parseRequest(z.object({ name: blobName }).strict(), query);
    const text = await this.upstream.ok<string>('analytics', 'GET', `/api/analytics/archives/${name.split('/').map(encodeURIComponent).join('/')}`);
    const lines = String(text).split('\n').filter(Boolean);
    return { name, total: lines.length, items: lines.slice(0, MAX_EVENTS).map((l) => JSON.parse(l) as unknown) };
  }

  @Post('verifications')
  @HttpCode(202)
  async verify(@Body() body: unknown, @Req() req: SessionRequest) {
    const scope = parseRequest(verifyBody, body ?? {});
    const reply = await this.upstream.call<{ id?: string; detail?: string }>('analytics', 'POST', '/api/analytics/archives/verifications', scope);
    await this.audit.record({
      actor: req.session!.actor,
      action: 'verify-archive',
      target: scope.topic ? `${scope.topic}${scope.partition !== undefined ? ` partition ${scope.partition}` : ''}${rangeOf(scope)}` : 'the whole archive',
      result: reply.status === 202 ? `started ${reply.body.id}` : `refused (${reply.status})`,
    });
    return expectOk('analytics', reply);
  }

  @Get('verifications/:id')
  async verification(@Param('id') id: string) {
    const key = parseRequest(z.string().uuid('a verification id'), id, 'id');
    return this.upstream.ok('analytics', 'GET', `/api/analytics/archives/verifications/${key}`);
  }
}

/** ' offsets 10..20' (an open end shown as such), or nothing when the scope has no range. */
function rangeOf(scope: { fromOffset?: number; toOffset?: number }): string {
  if (scope.fromOffset === undefined && scope.toOffset === undefined) return '';
  return ` offsets ${scope.fromOffset ?? 0}..${scope.toOffset ?? ''}`;
}
