import { z } from 'zod';
import { cancellationReasonSchema, toMajor } from '@app/contracts';
import type { OrderTimelineEntity } from './order.entity';
import type { OrderRow } from './orders.sql';

const at = z.iso.datetime();

/** The public shape of an order (money in major units); the timeline only when one order is read. */
export const orderViewSchema = z.object({
  orderId: z.string(),
  customerId: z.string(),
  status: z.enum(['PENDING', 'CANCELLING', 'CONFIRMED', 'CANCELLED']),
  cancellationReason: cancellationReasonSchema.nullable(),
  items: z.array(z.object({ sku: z.string(), quantity: z.number().int(), unitPrice: z.number(), lineTotal: z.number() })),
  total: z.number(),
  currency: z.string(),
  createdAt: at,
  updatedAt: at,
  completedAt: at.nullable(),
  deadlineAt: at,
  timeline: z.array(z.object({ type: z.string(), source: z.string(), at, messageId: z.string(), note: z.string().optional() })).optional(),
});

/** What the view reads of an order: a row of the saga's statements, or the entity (same fields). */
export function orderView(o: OrderRow, timeline?: OrderTimelineEntity[]): z.output<typeof orderViewSchema> {
  return {
    orderId: o.id,
    customerId: o.customerId,
    status: o.status,
    cancellationReason: o.cancellationReason,
    items: o.items.map((i) => ({ sku: i.sku, quantity: i.quantity, unitPrice: toMajor(i.unitPrice), lineTotal: toMajor(i.unitPrice * i.quantity) })),
    total: toMajor(o.total),
    currency: o.currency,
    createdAt: o.createdAt.toISOString(),
    updatedAt: o.updatedAt.toISOString(),
    completedAt: o.completedAt?.toISOString() ?? null,
    deadlineAt: o.deadlineAt.toISOString(),
    ...(timeline
      ? {
          timeline: timeline.map((t) => ({
            type: t.type,
            source: t.source,
            at: t.occurredAt.toISOString(),
            messageId: t.messageId,
            ...(t.note ? { note: t.note } : {}),
          })),
        }
      : {}),
  };
}
