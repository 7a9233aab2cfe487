import {
  CURRENCY,
  type DeclineReason,
  type OrderPlaced,
  type PaymentAuthorized,
  type PaymentDeclined,
  type PaymentRefunded,
  type RefundPayment,
} from '@app/contracts';
import { accept, reject, unreachable, type Decider, type Decision } from '@app/messaging';

/**
 * Payment's part of the order saga, decided purely: given the order's payment (if any) and the
 * customer's account (if any) and one message from Order, what changes and what to answer.
 * Money is in minor units.
 *
 *   (none) ──OrderPlaced──▶ AUTHORIZED (account debited) ──RefundPayment──▶ REFUNDED (credited back)
 *      │        └─────────▶ DECLINED (UNKNOWN_CUSTOMER | INSUFFICIENT_FUNDS; nothing moved)
 *      └─RefundPayment──▶ VOIDED (a tombstone) ──late OrderPlaced──▶ declined ORDER_CANCELLED
 *
 * Every RefundPayment is answered with PaymentRefunded (amount 0 when nothing was charged),
 * because Order waits for the answer to finish cancelling.
 */
export type PaymentStatus = 'AUTHORIZED' | 'DECLINED' | 'REFUNDED' | 'VOIDED';

export interface Payment {
  id: string;
  orderId: string;
  /** Null only on a tombstone written before the order was seen. */
  customerId: string | null;
  amount: number;
  currency: string | null;
  status: PaymentStatus;
  declineReason: DeclineReason | null;
  refundedAmount: number;
}

export interface Account {
  customerId: string;
  balance: number;
}

/** Payment's state for one message: the order's payment (if any) and the customer's account (if any). */
export interface PaymentSituation {
  payment: Payment | null;
  account: Account | null;
}

/** Ids are chosen by the caller so the decision stays a pure function. */
export type PaymentInput =
  { type: 'OrderPlaced'; payload: OrderPlaced; newPaymentId: string } | { type: 'RefundPayment'; payload: RefundPayment; newPaymentId: string };

export type PaymentOutput =
  /** Money the payment gateway must approve before anything is saved (an effect, not a message). */
  | { type: 'Charge'; amount: number }
  | { type: 'PaymentAuthorized'; payload: PaymentAuthorized }
  | { type: 'PaymentDeclined'; payload: PaymentDeclined }
  | { type: 'PaymentRefunded'; payload: PaymentRefunded };

export type PaymentDecision = Decision<PaymentSituation, PaymentOutput>;

export const payments: Decider<PaymentSituation, PaymentInput, PaymentOutput> = { decide };

export function decide(s: PaymentSituation, input: PaymentInput): PaymentDecision {
  switch (input.type) {
    case 'OrderPlaced':
      return onOrderPlaced(s, input.payload, input.newPaymentId);
    case 'RefundPayment':
      return onRefundPayment(s, input.payload, input.newPaymentId);
    default:
      return unreachable(input);
  }
}

function onOrderPlaced(s: PaymentSituation, order: OrderPlaced, newPaymentId: string): PaymentDecision {
  const { payment, account } = s;
  if (payment) {
    if (payment.status !== 'VOIDED') return reject(`payment for the order is already ${payment.status}`);
    if (payment.declineReason === 'ORDER_CANCELLED') return reject('the order was cancelled and its late OrderPlaced already declined');
    // The order was cancelled before we saw it: take nothing, keep the tombstone, say so.
    return accept(
      { ...s, payment: { ...payment, customerId: order.customerId, amount: order.total, currency: order.currency, declineReason: 'ORDER_CANCELLED' } },
      [declined(order, 'ORDER_CANCELLED')],
    );
  }
  if (order.currency !== CURRENCY) return reject(`accounts are kept in ${CURRENCY}; cannot charge ${order.currency}`, true);

  const base: Payment = {
    id: newPaymentId,
    orderId: order.orderId,
    customerId: order.customerId,
    amount: order.total,
    currency: order.currency,
    status: 'DECLINED',
    declineReason: null,
    refundedAmount: 0,
  };
  if (!account) return accept({ ...s, payment: { ...base, declineReason: 'UNKNOWN_CUSTOMER' } }, [declined(order, 'UNKNOWN_CUSTOMER')]);
  if (account.balance < order.total) {
    return accept({ ...s, payment: { ...base, declineReason: 'INSUFFICIENT_FUNDS' } }, [declined(order, 'INSUFFICIENT_FUNDS')]);
  }
  const authorized: PaymentAuthorized = {
    orderId: order.orderId,
    paymentId: newPaymentId,
    customerId: order.customerId,
    amount: order.total,
    currency: order.currency,
    items: order.items.map((i) => ({ ...i })),
  };
  return accept({ payment: { ...base, status: 'AUTHORIZED' }, account: { ...account, balance: account.balance - order.total } }, [
    { type: 'Charge', amount: order.total },
    { type: 'PaymentAuthorized', payload: authorized },
  ]);
}

function onRefundPayment(s: PaymentSituation, refund: RefundPayment, newPaymentId: string): PaymentDecision {
  const { payment, account } = s;
  const refunded = (customerId: string | null, amount: number): PaymentOutput => ({
    type: 'PaymentRefunded',
    payload: { orderId: refund.orderId, customerId, amount, reason: refund.reason },
  });
  if (!payment) {
    // The refund overtook the order: leave a tombstone so a late OrderPlaced is declined.
    const tombstone: Payment = {
      id: newPaymentId,
      orderId: refund.orderId,
      customerId: null,
      amount: 0,
      currency: null,
      status: 'VOIDED',
      declineReason: null,
      refundedAmount: 0,
    };
    return accept({ ...s, payment: tombstone }, [refunded(null, 0)]);
  }
  if (payment.status !== 'AUTHORIZED') {
    // Nothing is held (declined, voided, or already given back): still answer, moving nothing.
    return accept(s, [refunded(payment.customerId, 0)]);
  }
  if (payment.customerId === null) throw new Error(`authorized payment ${payment.id} has no customer`);
  const customerId = payment.customerId;
  // An authorized payment's account should still exist; if it does not, the money re-opens
  // it rather than vanish.
  const credited: Account = account ? { ...account, balance: account.balance + payment.amount } : { customerId, balance: payment.amount };
  return accept({ payment: { ...payment, status: 'REFUNDED', refundedAmount: payment.amount }, account: credited }, [refunded(customerId, payment.amount)]);
}

function declined(order: OrderPlaced, reason: DeclineReason): PaymentOutput {
  return { type: 'PaymentDeclined', payload: { orderId: order.orderId, customerId: order.customerId, amount: order.total, reason } };
}
