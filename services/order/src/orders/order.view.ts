import { toMajor } from '@app/contracts';
import type { OrderTimelineEntity } from './order.entity';
import type { OrderRow } from './orders.sql';

/** The public shape of an order (money in major units). */
/** What the view reads of an order: a row of the saga's statements, or the entity (same fields). */
export function orderView(o: OrderRow, timeline?: OrderTimelineEntity[]) {
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
