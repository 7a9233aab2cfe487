import { Inject, Injectable } from '@nestjs/common';
import { createHash, randomUUID } from 'node:crypto';
import { In, QueryFailedError } from 'typeorm';
import { z } from 'zod';
import { createEnvelope, CURRENCY, MAX_AMOUNT_MINOR, OrderPlaced, toMajor, type OrderLine } from '@app/contracts';
import { UnitOfWork } from '@app/messaging';
import { CLOCK, unprocessable, type Clock } from '@app/platform';
import { ORDER_CONFIG, type OrderConfig } from '../../config';
import { ProductEntity } from '../../products/product.entity';
import { initialState } from '../../saga/order-saga';
import { SERVICE } from '../../saga/order-saga.handlers';
import { OrderEntity } from '../order.entity';
import { appendTimeline, applySagaState } from '../orders.repository';

import { skuPattern } from '@app/contracts';

export function placeOrderSchema(maxItems: number) {
  return z
    .object({
      customerId: z
        .string()
        .trim()
        .min(1)
        .max(64)
        .regex(/^[A-Za-z0-9._@-]+$/, 'letters, digits and . _ @ - only'),
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

export interface PlaceOrderResult {
  order: OrderEntity;
  replayed: boolean;
}

/**
 * Prices the items from the catalog and stores the order PENDING with OrderPlaced in the
 * outbox, in one transaction. With an Idempotency-Key, the same key and body return the
 * first order; the same key with another body is refused (422).
 */
@Injectable()
export class PlaceOrder {
  constructor(
    private readonly uow: UnitOfWork,
    @Inject(ORDER_CONFIG) private readonly config: OrderConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async execute(request: PlaceOrderRequest, opts: { idempotencyKey?: string; correlationId?: string }): Promise<PlaceOrderResult> {
    const requestHash = opts.idempotencyKey ? hashRequest(request) : null;
    try {
      return await this.uow.run(async (tx) => {
        if (opts.idempotencyKey) {
          const existing = await tx.manager.getRepository(OrderEntity).findOne({ where: { idempotencyKey: opts.idempotencyKey } });
          if (existing) return this.replay(existing, requestHash!);
        }
        const products = await tx.manager.getRepository(ProductEntity).findBy({ sku: In(request.items.map((i) => i.sku)) });
        const prices = new Map(products.map((p) => [p.sku, Number(p.unitPrice)]));
        const unknown = request.items.map((item, i) => ({ item, i })).filter(({ item }) => !prices.has(item.sku));
        if (unknown.length > 0) {
          throw unprocessable(
            `unknown SKU ${unknown.map((u) => u.item.sku).join(', ')}`,
            unknown.map(({ item, i }) => ({ field: `items[${i}].sku`, message: `no product with SKU ${item.sku}` })),
          );
        }
        const lines: OrderLine[] = request.items.map((i) => ({ sku: i.sku, quantity: i.quantity, unitPrice: prices.get(i.sku)! }));
        const total = lines.reduce((sum, l) => sum + l.unitPrice * l.quantity, 0);
        if (total > MAX_AMOUNT_MINOR) {
          throw unprocessable(`the order total ${toMajor(total)} exceeds ${toMajor(MAX_AMOUNT_MINOR)}, the most an account can hold`, [
            { field: 'items', message: `the total exceeds ${toMajor(MAX_AMOUNT_MINOR)}` },
          ]);
        }
        const now = this.clock.now();
        const id = randomUUID();
        const order = tx.manager.getRepository(OrderEntity).create({
          id,
          customerId: request.customerId,
          total,
          currency: CURRENCY,
          items: lines,
          correlationId: opts.correlationId ?? id,
          idempotencyKey: opts.idempotencyKey ?? null,
          requestHash,
          deadlineAt: new Date(now.getTime() + this.config.deadlineMs),
          completedAt: null,
          createdAt: now,
          updatedAt: now,
        });
        applySagaState(order, initialState);
        await tx.manager.insert(OrderEntity, order);
        const placed = createEnvelope<OrderPlaced>({
          type: OrderPlaced.type,
          key: id,
          source: SERVICE,
          correlationId: order.correlationId,
          occurredAt: now,
          payload: { orderId: id, customerId: order.customerId, items: lines, total, currency: CURRENCY },
        });
        await appendTimeline(tx.manager, id, placed);
        await tx.send(placed);
        return { order, replayed: false };
      });
    } catch (error) {
      // Two requests raced with one Idempotency-Key: the loser answers from the winner's order.
      if (opts.idempotencyKey && error instanceof QueryFailedError && /idempotency_key|unique/i.test(String(error.message))) {
        const existing = await this.uow.run((tx) => tx.manager.getRepository(OrderEntity).findOne({ where: { idempotencyKey: opts.idempotencyKey } }));
        if (existing) return this.replay(existing, requestHash!);
      }
      throw error;
    }
  }

  private replay(existing: OrderEntity, requestHash: string): PlaceOrderResult {
    if (existing.requestHash !== requestHash) {
      throw unprocessable('this Idempotency-Key was used with a different request body', [
        { field: 'Idempotency-Key', message: 'already used with a different request body' },
      ]);
    }
    return { order: existing, replayed: true };
  }
}

function hashRequest(request: PlaceOrderRequest): string {
  const canonical = JSON.stringify({ customerId: request.customerId, items: request.items.map((i) => [i.sku, i.quantity]) });
  return createHash('sha256').update(canonical).digest('hex');
}
