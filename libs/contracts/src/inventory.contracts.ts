import { z } from 'zod';
import { cancellationReasonSchema } from './orders.contracts';

const reservedLine = z.object({ sku: z.string().min(1), quantity: z.number().int().positive() });

/** Event: every line of the order is reserved. */
export const StockReserved = {
  type: 'StockReserved',
  version: 1,
  schema: z.object({ orderId: z.string().uuid(), items: z.array(reservedLine).min(1) }),
} as const;
export type StockReserved = z.infer<typeof StockReserved.schema>;

/** Event: at least one line was short; nothing was reserved. */
export const StockReservationFailed = {
  type: 'StockReservationFailed',
  version: 1,
  schema: z.object({
    orderId: z.string().uuid(),
    reason: z.enum(['INSUFFICIENT_STOCK', 'ORDER_CANCELLED']),
    shortages: z.array(z.object({ sku: z.string().min(1), requested: z.number().int().positive(), available: z.number().int().nonnegative() })),
  }),
} as const;
export type StockReservationFailed = z.infer<typeof StockReservationFailed.schema>;

/**
 * Event: the answer to ReleaseStock. `items` is empty when nothing had been reserved (the
 * order is then voided, and a late PaymentAuthorized reserves nothing).
 */
export const StockReleased = {
  type: 'StockReleased',
  version: 1,
  schema: z.object({ orderId: z.string().uuid(), items: z.array(reservedLine), reason: cancellationReasonSchema }),
} as const;
export type StockReleased = z.infer<typeof StockReleased.schema>;
