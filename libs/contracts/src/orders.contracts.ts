import { z } from 'zod';
import { amountMinor } from './money';

export const orderLineSchema = z.object({
  sku: z.string().min(1).max(64),
  quantity: z.number().int().positive(),
  unitPrice: amountMinor,
});
export type OrderLine = z.infer<typeof orderLineSchema>;

export const CancellationReason = {
  PaymentDeclined: 'PAYMENT_DECLINED',
  OutOfStock: 'OUT_OF_STOCK',
  CustomerRequest: 'CUSTOMER_REQUEST',
  Timeout: 'TIMEOUT',
  ProcessingFailed: 'PROCESSING_FAILED',
} as const;
export type CancellationReason = (typeof CancellationReason)[keyof typeof CancellationReason];
export const cancellationReasonSchema = z.enum(['PAYMENT_DECLINED', 'OUT_OF_STOCK', 'CUSTOMER_REQUEST', 'TIMEOUT', 'PROCESSING_FAILED']);

/** A line of OrderPlaced v2 on: the v1 line and what it comes to (quantity × unit price). */
export const pricedLineSchema = orderLineSchema.extend({ lineTotal: amountMinor });
export type PricedLine = z.infer<typeof pricedLineSchema>;

export const pricedLines = (lines: readonly OrderLine[]): PricedLine[] => lines.map((l) => ({ ...l, lineTotal: l.quantity * l.unitPrice }));

/** Where the customer hears of the order's outcome; null when the order gave none. */
export const customerEmailSchema = z.string().email().max(254).nullable();

const orderPlacedV1 = z.object({
  orderId: z.string().uuid(),
  customerId: z.string().min(1).max(64),
  items: z.array(orderLineSchema).min(1),
  total: amountMinor,
  currency: z.string().length(3),
});

/**
 * Event: a customer placed an order; starts the saga. Payment reacts.
 *
 * v2 (breaking: two new required fields) carries each line's total and the customer's email,
 * for the notification the order's outcome sends. A v1 message (still in a queue, a DLQ, Kafka
 * or the archive) is upcast: its line totals computed, its email null (v1 orders gave none).
 */
export const OrderPlaced = {
  type: 'OrderPlaced',
  version: 2,
  schema: orderPlacedV1.extend({ items: z.array(pricedLineSchema).min(1), email: customerEmailSchema }),
  older: [
    {
      version: 1,
      schema: orderPlacedV1,
      upcast: (p: z.infer<typeof orderPlacedV1>) => ({
        ...p,
        items: pricedLines(p.items),
        email: null,
      }),
    },
  ],
} as const;
export type OrderPlaced = z.infer<typeof OrderPlaced.schema>;

/**
 * What the outcome events carry for whoever tells the customer (additive, optional: an event of
 * an order placed before OrderPlaced v2 has neither).
 */
const forTheCustomer = {
  email: customerEmailSchema.optional(),
  items: z.array(pricedLineSchema).min(1).optional(),
};

/** Event: the saga completed; the order is confirmed. */
export const OrderConfirmed = {
  type: 'OrderConfirmed',
  version: 1,
  schema: z.object({
    orderId: z.string().uuid(),
    customerId: z.string().min(1),
    total: amountMinor,
    currency: z.string().length(3),
    placedAt: z.string().datetime({ offset: true }),
    ...forTheCustomer,
  }),
} as const;
export type OrderConfirmed = z.infer<typeof OrderConfirmed.schema>;

/** Event: the order was cancelled (compensations, if any, were requested). */
export const OrderCancelled = {
  type: 'OrderCancelled',
  version: 1,
  schema: z.object({
    orderId: z.string().uuid(),
    customerId: z.string().min(1),
    reason: cancellationReasonSchema,
    total: amountMinor,
    currency: z.string().length(3),
    placedAt: z.string().datetime({ offset: true }),
    ...forTheCustomer,
  }),
} as const;
export type OrderCancelled = z.infer<typeof OrderCancelled.schema>;

/** Command (Order → Payment): give back whatever was charged for this order. */
export const RefundPayment = {
  type: 'RefundPayment',
  version: 1,
  schema: z.object({ orderId: z.string().uuid(), reason: cancellationReasonSchema }),
} as const;
export type RefundPayment = z.infer<typeof RefundPayment.schema>;

/** Command (Order → Inventory): release whatever was reserved for this order. */
export const ReleaseStock = {
  type: 'ReleaseStock',
  version: 1,
  schema: z.object({ orderId: z.string().uuid(), reason: cancellationReasonSchema }),
} as const;
export type ReleaseStock = z.infer<typeof ReleaseStock.schema>;

/** Timeout message (Order → Order): the saga's deadline passed. */
export const OrderDeadlineReached = {
  type: 'OrderDeadlineReached',
  version: 1,
  schema: z.object({ orderId: z.string().uuid(), deadline: z.string().datetime({ offset: true }) }),
} as const;
export type OrderDeadlineReached = z.infer<typeof OrderDeadlineReached.schema>;

/** A customer id as every service accepts it: letters, digits and . _ @ -, at most 64. */
export const customerIdPattern = /^[A-Za-z0-9._@-]{1,64}$/;

/** A SKU as every service accepts it: letters, digits and . _ -, at most 64. */
export const skuPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
