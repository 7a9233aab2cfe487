import { Inject, Injectable } from '@nestjs/common';
import { createHash, randomUUID } from 'node:crypto';
import { z } from 'zod';
import {
  createEnvelope,
  CURRENCY,
  customerIdPattern,
  MAX_AMOUNT_MINOR,
  OrderPlaced,
  pricedLines,
  routingKeyFor,
  skuPattern,
  toMajor,
  type OrderLine,
} from '@app/contracts';
import { inDatabaseSpan, OutboxDispatcher, SQL_DATABASE } from '@app/messaging';
import type { SqlDatabase } from '@app/persistence';
import { activeTraceparent, CLOCK, unprocessable, type Clock } from '@app/platform';
import { ORDER_CONFIG, type OrderConfig } from '../../config';
import { PriceCache, type CachedPrice } from '../../products/price-cache';
import { SERVICE } from '../../saga/order-saga.handlers';
import { insertOrders, ordersByKeys, type NewOrder } from './place-orders.sql';

export function placeOrderSchema(maxItems: number) {
  return z
    .object({
      customerId: z.string().trim().min(1).max(64).regex(customerIdPattern, 'letters, digits and . _ @ - only'),
      items: z
        .array(
          z
            .object({
              sku: z.string().regex(skuPattern, 'a SKU of letters, digits and . _ - (at most 64)'),
              quantity: z.number().int('must be an integer').positive('must be at least 1').max(10_000),
            })
            .strict(),
        )
        .min(1, 'at least one item')
        .max(maxItems, `at most ${maxItems} items`),
      /** Where the order's outcome is emailed (optional: without it, no email is sent). */
      email: z.string().trim().max(254).email('an email address').optional(),
    })
    .strict()
    .superRefine((body, ctx) => {
      const seen = new Set<string>();
      body.items.forEach((item, i) => {
        if (seen.has(item.sku)) ctx.addIssue({ code: 'custom', path: ['items', i, 'sku'], message: 'duplicate SKU; combine the quantities in one line' });
        seen.add(item.sku);
      });
    });
}

export type PlaceOrderRequest = z.infer<ReturnType<typeof placeOrderSchema>>;

/** What POST /api/orders answers with. */
export interface PlacedOrder {
  id: string;
  status: string;
  total: number;
  currency: string;
}

export interface PlaceOrderResult {
  order: PlacedOrder;
  replayed: boolean;
}

interface Waiting {
  request: PlaceOrderRequest;
  idempotencyKey?: string;
  correlationId?: string;
  /** The request's span, read when it arrives: the group's statement runs outside the request's context. */
  traceparent?: string;
  requestHash: string | null;
  resolve(result: PlaceOrderResult): void;
  reject(error: unknown): void;
}

/** Orders one statement takes at most, and statements in flight at once. */
const GROUP_MAX = 256;
const GROUP_CONCURRENCY = 2;
/** A batch whose prices changed under it is priced again, at most this often. */
const PRICING_ATTEMPTS = 3;

/**
 * Prices the items from the catalog and stores the order PENDING with OrderPlaced in the
 * outbox, in one statement. With an Idempotency-Key, the same key and body return the first
 * order; the same key with another body is refused (422).
 *
 * Group commit: a request that arrives while fewer than GROUP_CONCURRENCY inserts run starts
 * one at once, alone; requests that arrive meanwhile share the next one (one statement for
 * all their orders, timeline lines and outbox rows, one commit). Each request is still judged
 * alone: an unknown SKU or a total too large is a 422 for that request only, and stores nothing.
 * Prices come from the in-memory PriceCache, checked by the insert itself.
 */
@Injectable()
export class PlaceOrder {
  private readonly queue: Waiting[] = [];
  private running = 0;

  constructor(
    @Inject(SQL_DATABASE) private readonly db: SqlDatabase,
    private readonly dispatcher: OutboxDispatcher,
    private readonly prices: PriceCache,
    @Inject(ORDER_CONFIG) private readonly config: OrderConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  execute(request: PlaceOrderRequest, opts: { idempotencyKey?: string; correlationId?: string }): Promise<PlaceOrderResult> {
    return new Promise<PlaceOrderResult>((resolve, reject) => {
      this.queue.push({ request, ...opts, traceparent: activeTraceparent(), requestHash: opts.idempotencyKey ? hashRequest(request) : null, resolve, reject });
      this.next();
    });
  }

  private next(): void {
    while (this.running < GROUP_CONCURRENCY && this.queue.length > 0) {
      const batch = this.queue.splice(0, GROUP_MAX);
      this.running++;
      void this.place(batch)
        .catch(async (error: unknown) => {
          if (batch.length === 1) return batch[0].reject(error);
          // Nothing of the statement was kept: each request alone, so that only a bad one fails.
          for (const w of batch) await this.place([w]).catch((e: unknown) => w.reject(e));
        })
        .finally(() => {
          this.running--;
          this.next();
        });
    }
  }

  private async place(batch: Waiting[]): Promise<void> {
    // One order per Idempotency-Key in a statement: a repeat waits for the first's answer.
    const first = new Map<string, Waiting>();
    const repeats: Waiting[] = [];
    const candidates: Waiting[] = [];
    for (const w of batch) {
      if (w.idempotencyKey && first.has(w.idempotencyKey)) repeats.push(w);
      else {
        if (w.idempotencyKey) first.set(w.idempotencyKey, w);
        candidates.push(w);
      }
    }
    for (let attempt = 1; ; attempt++) {
      const prices = await this.prices.get(candidates.flatMap((w) => w.request.items.map((i) => i.sku)));
      const orders: Array<{ w: Waiting; order: NewOrder; placed: PlacedOrder }> = [];
      for (const w of candidates) {
        const priced = this.price(w, prices);
        if (priced instanceof Error) w.reject(priced);
        else orders.push({ w, ...priced });
      }
      const used = [...new Set(orders.flatMap((o) => o.w.request.items.map((i) => i.sku)))].map((sku) => ({ sku, version: prices.get(sku)!.version }));
      const newOrders = orders.map((o) => o.order);
      // On PostgreSQL the insert is one statement, atomic by itself: BEGIN and COMMIT around it
      // would be two more round trips per batch (a third of an idle POST's latency). SQL Server's
      // spelling is a batch of several statements, so there it runs in a transaction.
      // Traced: a span for the group's statement, linked to each request's trace.
      const rows = await inDatabaseSpan(
        SERVICE,
        'place orders',
        this.db,
        orders.map((o) => o.w.traceparent),
        (db) => (db.dialect === 'postgres' ? insertOrders(db, used, newOrders) : db.transaction((s) => insertOrders(s, used, newOrders))),
      );
      if (rows.stale > 0) {
        // Another instance changed a price since it was cached: price the batch again.
        this.prices.forget(used.map((u) => u.sku));
        if (attempt < PRICING_ATTEMPTS) continue;
        throw new Error('prices kept changing while the orders were placed');
      }
      // Committed: OrderPlaced leaves now, from memory.
      this.dispatcher.dispatch(
        orders
          .filter((o) => rows.orders.has(o.order.id))
          .map((o) => ({
            id: rows.outbox.get(o.order.messageId)!,
            routingKey: routingKeyFor(SERVICE, OrderPlaced.type),
            envelope: JSON.parse(o.order.envelope),
            body: o.order.envelope,
          })),
      );
      for (const o of orders) if (rows.orders.has(o.order.id)) o.w.resolve({ order: o.placed, replayed: false });
      // Orders that were not inserted lost an Idempotency-Key race (in this statement or to
      // another request); they and the repeats answer from the order that holds the key.
      const answered = [...repeats, ...orders.filter((o) => !rows.orders.has(o.order.id)).map((o) => o.w)];
      if (answered.length) {
        const existing = await ordersByKeys(this.db, [...new Set(answered.map((w) => w.idempotencyKey!))]);
        for (const w of answered) {
          const e = existing.get(w.idempotencyKey!);
          if (!e) w.reject(new Error(`no order holds Idempotency-Key ${w.idempotencyKey}`));
          else if (e.requestHash !== w.requestHash) w.reject(differentBody());
          else w.resolve({ order: { id: e.id, status: e.status, total: e.total, currency: e.currency }, replayed: true });
        }
      }
      return;
    }
  }

  /** One request priced: its order and OrderPlaced, or the 422 that refuses it. */
  private price(w: Waiting, prices: Map<string, CachedPrice>): { order: NewOrder; placed: PlacedOrder } | Error {
    const { request } = w;
    const unknown = request.items.map((item, i) => ({ item, i })).filter(({ item }) => !prices.has(item.sku));
    if (unknown.length > 0) {
      return unprocessable(
        `unknown SKU ${unknown.map((u) => u.item.sku).join(', ')}`,
        unknown.map(({ item, i }) => ({ field: `items[${i}].sku`, message: `no product with SKU ${item.sku}` })),
      );
    }
    const lines: OrderLine[] = request.items.map((i) => ({ sku: i.sku, quantity: i.quantity, unitPrice: prices.get(i.sku)!.unitPrice }));
    const total = lines.reduce((sum, l) => sum + l.unitPrice * l.quantity, 0);
    if (total > MAX_AMOUNT_MINOR) {
      return unprocessable(`the order total ${toMajor(total)} exceeds ${toMajor(MAX_AMOUNT_MINOR)}, the most an account can hold`, [
        { field: 'items', message: `the total exceeds ${toMajor(MAX_AMOUNT_MINOR)}` },
      ]);
    }
    const now = this.clock.now();
    const id = randomUUID();
    const correlationId = w.correlationId ?? id;
    const placed = createEnvelope<OrderPlaced>({
      type: OrderPlaced.type,
      key: id,
      source: SERVICE,
      correlationId,
      occurredAt: now,
      payload: { orderId: id, customerId: request.customerId, items: pricedLines(lines), total, currency: CURRENCY, email: request.email ?? null },
    });
    // The saga's trace begins with the request that placed the order.
    if (w.traceparent) placed.traceparent = w.traceparent;
    return {
      order: {
        id,
        customerId: request.customerId,
        total,
        currency: CURRENCY,
        items: JSON.stringify(lines),
        correlationId,
        idempotencyKey: w.idempotencyKey ?? null,
        requestHash: w.requestHash,
        deadlineAt: new Date(now.getTime() + this.config.deadlineMs),
        createdAt: now,
        messageId: placed.messageId,
        envelope: JSON.stringify(placed),
        traceParent: w.traceparent ?? null,
        email: request.email ?? null,
      },
      placed: { id, status: 'PENDING', total, currency: CURRENCY },
    };
  }
}

const differentBody = () =>
  unprocessable('this Idempotency-Key was used with a different request body', [
    { field: 'Idempotency-Key', message: 'already used with a different request body' },
  ]);

function hashRequest(request: PlaceOrderRequest): string {
  const canonical = JSON.stringify({ customerId: request.customerId, items: request.items.map((i) => [i.sku, i.quantity]), email: request.email ?? null });
  return createHash('sha256').update(canonical).digest('hex');
}
