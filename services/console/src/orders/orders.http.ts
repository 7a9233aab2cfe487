import { Controller, Get, HttpCode, Param, Post, Query, Req, UseGuards } from '@nestjs/common';
import { z } from 'zod';
import { customerIdPattern } from '@app/contracts';
import { parseRequest } from '@app/platform';
import { AuditLog } from '../audit/audit-log';
import { SessionGuard, type SessionRequest } from '../session/session.guard';
import { expectOk, UpstreamClient } from '../upstream';

const orderId = z.string().uuid('must be a UUID');
const searchQuery = z
  .object({
    id: orderId.optional(),
    customerId: z.string().regex(customerIdPattern, '1-64 letters, digits and . _ @ - only').optional(),
    status: z.enum(['PENDING', 'CANCELLING', 'CONFIRMED', 'CANCELLED']).optional(),
    from: z.string().datetime({ offset: true, message: 'an ISO date-time' }).optional(),
    to: z.string().datetime({ offset: true, message: 'an ISO date-time' }).optional(),
    cursor: z
      .string()
      .max(512)
      .regex(/^[A-Za-z0-9_-]+$/, 'a cursor as returned')
      .optional(),
  })
  .strict();

interface OrderView {
  orderId: string;
  customerId: string;
  status: string;
  createdAt: string;
}
interface Page<T> {
  items: T[];
  nextCursor?: string | null;
}

interface ArchivedEvent {
  topic: string;
  partition: number;
  offset: string | number;
  timestamp: string;
  event: { correlationId?: string; key?: string; occurredAt?: string; [field: string]: unknown };
}
/** How far after its start the archive is searched for a saga's events, and how many blobs read. */
const ARCHIVE_WINDOW_MS = 3 * 3_600_000;
const MAX_BLOBS_READ = 50;
const PAGE_SIZE = 50;
const MAX_PAGES_SEARCHED = 20;
const two = (n: number) => String(n).padStart(2, '0');
const HOUR_MS = 3_600_000;

/**
 * The archive's hour folders (`yyyy/MM/dd/HH`) that may hold events from `start` to `end`: a
 * blob sits under the hour of its first event, so the hour before `start` too, and every hour
 * up to the one `end` falls in (stepping from `start` itself would skip that last one whenever
 * the window crosses an hour).
 */
export function archiveHours(start: number, end: number): string[] {
  const hours: string[] = [];
  for (let hour = Math.floor(start / HOUR_MS) * HOUR_MS - HOUR_MS; hour <= end; hour += HOUR_MS) {
    const d = new Date(hour);
    hours.push(`${d.getUTCFullYear()}/${two(d.getUTCMonth() + 1)}/${two(d.getUTCDate())}/${two(d.getUTCHours())}`);
  }
  return hours;
}

@Controller('api/orders')
@UseGuards(SessionGuard)
export class OrdersHttp {
  constructor(
    private readonly upstream: UpstreamClient,
    private readonly audit: AuditLog,
  ) {}

  /**
   * By id (one order), else newest first by customer and status; Order's API has no time
   * filter, so the window is applied here over up to MAX_PAGES_SEARCHED pages.
   */
  @Get()
  async search(@Query() query: unknown) {
    const q = parseRequest(searchQuery, query);
    if (q.id) {
      const reply = await this.upstream.call<OrderView>('order', 'GET', `/api/orders/${q.id}`);
      if (reply.status === 404) return { items: [], nextCursor: null };
      return { items: [expectOk('order', reply)], nextCursor: null };
    }
    const from = q.from ? Date.parse(q.from) : -Infinity;
    const to = q.to ? Date.parse(q.to) : Infinity;
    // Newest first: pages are read until one holds an order older than the window (or enough).
    const items: OrderView[] = [];
    let cursor = q.cursor ?? null;
    for (let pages = 0; pages < MAX_PAGES_SEARCHED && items.length < PAGE_SIZE; pages++) {
      const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (q.customerId) params.set('customerId', q.customerId);
      if (q.status) params.set('status', q.status);
      if (cursor) params.set('cursor', cursor);
      const page = await this.upstream.ok<Page<OrderView>>('order', 'GET', `/api/orders?${params}`);
      items.push(...page.items.filter((o) => Date.parse(o.createdAt) >= from && Date.parse(o.createdAt) <= to));
      cursor = page.nextCursor ?? null;
      if (!cursor || page.items.some((o) => Date.parse(o.createdAt) < from)) {
        cursor = null;
        break;
      }
    }
    return { items, nextCursor: cursor };
  }

  /** One order's saga as each service recorded it, joined by the order id (the saga's correlation id). */
  @Get(':id')
  async saga(@Param('id') id: string) {
    const key = parseRequest(orderId, id, 'id');
    const [order, payments, reservations, notifications] = await Promise.all([
      this.upstream.ok('order', 'GET', `/api/orders/${key}`),
      this.upstream.ok<Page<unknown>>('payment', 'GET', `/api/payments?orderId=${key}`),
      this.upstream.ok<Page<unknown>>('inventory', 'GET', `/api/reservations?orderId=${key}`),
      // What the customer was told; the saga's page shows without it if Notification cannot answer.
      this.upstream.ok<Page<unknown>>('notification', 'GET', `/api/notifications?orderId=${key}`).catch(() => null),
    ]);
    return {
      order,
      payments: payments.items,
      reservations: reservations.items,
      notifications: notifications?.items ?? null,
      archived: await this.archived(order as OrderView & { updatedAt: string }),
    };
  }

  /**
   * The events Analytics archived of this saga (their correlation id is the order id), read
   * from the blobs of the hours the saga ran; `null` when the archive cannot be read.
   */
  private async archived(order: OrderView & { updatedAt: string }) {
    const start = Date.parse(order.createdAt) - 60_000;
    const end = Math.min(Math.max(Date.parse(order.updatedAt), start) + 60_000, start + ARCHIVE_WINDOW_MS);
    try {
      const blobs: Array<{ name: string; from: string | null; to: string | null }> = [];
      for (const prefix of archiveHours(start, end)) {
        const page = await this.upstream.ok<{ items: typeof blobs }>(
          'analytics',
          'GET',
          `/api/analytics/archives?prefix=${prefix}&limit=1000&from=${new Date(start).toISOString()}&to=${new Date(end).toISOString()}`,
        );
        blobs.push(...page.items);
      }
      const events: ArchivedEvent[] = [];
      for (const blob of blobs.slice(-MAX_BLOBS_READ)) {
        const text = await this.upstream.ok<string>('analytics', 'GET', `/api/analytics/archives/${blob.name}`);
        for (const line of String(text).split('\n')) {
          if (!line) continue;
          const record = JSON.parse(line) as ArchivedEvent;
          if (record.event?.correlationId === order.orderId || record.event?.key === order.orderId) events.push(record);
        }
      }
      return events.sort((a, b) => String(a.event.occurredAt).localeCompare(String(b.event.occurredAt)));
    } catch {
      return null;
    }
  }

  @Post(':id/cancel')
  @HttpCode(200)
  async cancel(@Param('id') id: string, @Req() req: SessionRequest) {
    const key = parseRequest(orderId, id, 'id');
    const reply = await this.upstream.call<{ status?: string; detail?: string }>('order', 'POST', `/api/orders/${key}/cancel`);
    const ok = reply.status === 202;
    await this.audit.record({
      actor: req.session!.actor,
      action: 'cancel-order',
      target: `order ${key}`,
      result: ok ? 'accepted' : `refused (${reply.status})`,
      ...(ok ? {} : { detail: String(reply.body?.detail ?? '').slice(0, 300) }),
    });
    return expectOk('order', reply);
  }
}
