import { z } from 'zod';
import { cancellationReasonSchema, orderLineSchema } from './orders.contracts';
import { amountMinor } from './money';

/** Event: the customer's account was debited. Carries the lines so Inventory can reserve. */
export const PaymentAuthorized = {
  type: 'PaymentAuthorized',
  version: 1,
  schema: z.object({
    orderId: z.string().uuid(),
    paymentId: z.string().uuid(),
    customerId: z.string().min(1),
    amount: amountMinor,
    currency: z.string().length(3),
    items: z.array(orderLineSchema).min(1),
  }),
} as const;
export type PaymentAuthorized = z.infer<typeof PaymentAuthorized.schema>;

export const declineReasonSchema = z.enum(['INSUFFICIENT_FUNDS', 'UNKNOWN_CUSTOMER', 'ORDER_CANCELLED']);
export type DeclineReason = z.infer<typeof declineReasonSchema>;

/** Event: the payment was not taken. */
export const PaymentDeclined = {
  type: 'PaymentDeclined',
  version: 1,
  schema: z.object({
    orderId: z.string().uuid(),
    customerId: z.string().min(1),
    amount: amountMinor,
    reason: declineReasonSchema,
  }),
} as const;
export type PaymentDeclined = z.infer<typeof PaymentDeclined.schema>;

/**
 * Event: the answer to RefundPayment. `amount` is what went back to the account: 0 when
 * nothing had been charged (the order is then voided, and a late OrderPlaced is declined).
 */
export const PaymentRefunded = {
  type: 'PaymentRefunded',
  version: 1,
  schema: z.object({
    orderId: z.string().uuid(),
    customerId: z.string().min(1).nullable(),
    amount: amountMinor,
    reason: cancellationReasonSchema,
  }),
} as const;
export type PaymentRefunded = z.infer<typeof PaymentRefunded.schema>;
