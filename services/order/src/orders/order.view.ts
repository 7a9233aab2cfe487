import { toMajor } from '@app/contracts';
import type { OrderEntity, OrderTimelineEntity } from './order.entity';

/** The public shape of an order (money in major units). */
export function orderView(o: OrderEntity, timeline?: OrderTimelineEntity[]) {
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
