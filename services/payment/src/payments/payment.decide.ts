import {
  CURRENCY,
  type DeclineReason,
  type OrderPlaced,
  type PaymentAuthorized,
  type PaymentDeclined,
  type PaymentRefunded,
  type RefundPayment,
} from '@app/contracts';

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

/** What the handler loaded (and locked) for the message's order. */
export interface PaymentSituation {
  payment: Payment | null;
  account: Account | null;
}

export type PaymentInput = { type: 'OrderPlaced'; payload: OrderPlaced } | { type: 'RefundPayment'; payload: RefundPayment };

export type PaymentOutput =
  | { type: 'PaymentAuthorized'; payload: PaymentAuthorized }
  | { type: 'PaymentDeclined'; payload: PaymentDeclined }
  | { type: 'PaymentRefunded'; payload: PaymentRefunded };

export interface PaymentChanges {
  /** The order's payment as it must be saved (inserted when the situation had none). */
  payment?: Payment;
  /** The account after money moved. */
  account?: Account;
}

export type PaymentDecision =
  | {
      accepted: true;
      changes: PaymentChanges;
      /** Money the payment gateway must approve before the changes are saved. */
      charge?: number;
      send: PaymentOutput[];
    }
  | {
      accepted: false;
      why: string;
      /** The message can never be processed (not just late or repeated): dead-letter it. */
      unprocessable?: boolean;
    };

/** Ids are chosen by the caller so the decision stays a pure function. */
export interface DecideOptions {
  /** The id a payment created by this decision gets. */
  newPaymentId: string;
}

const accept = (changes: PaymentChanges, send: PaymentOutput[], charge?: number): PaymentDecision =>
  charge === undefined ? { accepted: true, changes, send } : { accepted: true, changes, send, charge };
const reject = (why: string, unprocessable = false): PaymentDecision => (unprocessable ? { accepted: false, why, unprocessable } : { accepted: false, why });

export function decide(s: PaymentSituation, input: PaymentInput, options: DecideOptions): PaymentDecision {
  switch (input.type) {
    case 'OrderPlaced':
      return onOrderPlaced(s, input.payload, options);
    case 'RefundPayment':
      return onRefundPayment(s, input.payload, options);
  }
}

function onOrderPlaced({ payment, account }: PaymentSituation, order: OrderPlaced, { newPaymentId }: DecideOptions): PaymentDecision {
  if (payment) {
    if (payment.status !== 'VOIDED') return reject(`payment for the order is already ${payment.status}`);
    if (payment.declineReason === 'ORDER_CANCELLED') return reject('the order was cancelled and its late OrderPlaced already declined');
    // The order was cancelled before we saw it: take nothing, keep the tombstone, say so.
    return accept({ payment: { ...payment, customerId: order.customerId, amount: order.total, currency: order.currency, declineReason: 'ORDER_CANCELLED' } }, [
      declined(order, 'ORDER_CANCELLED'),
    ]);
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
  if (!account) {
    return accept({ payment: { ...base, declineReason: 'UNKNOWN_CUSTOMER' } }, [declined(order, 'UNKNOWN_CUSTOMER')]);
  }
  if (account.balance < order.total) {
    return accept({ payment: { ...base, declineReason: 'INSUFFICIENT_FUNDS' } }, [declined(order, 'INSUFFICIENT_FUNDS')]);
  }
  const authorized: PaymentAuthorized = {
    orderId: order.orderId,
    paymentId: newPaymentId,
    customerId: order.customerId,
    amount: order.total,
    currency: order.currency,
    items: order.items.map((i) => ({ ...i })),
  };
  return accept(
    { payment: { ...base, status: 'AUTHORIZED' }, account: { ...account, balance: account.balance - order.total } },
    [{ type: 'PaymentAuthorized', payload: authorized }],
    order.total,
  );
}

function onRefundPayment({ payment, account }: PaymentSituation, refund: RefundPayment, { newPaymentId }: DecideOptions): PaymentDecision {
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
    return accept({ payment: tombstone }, [refunded(null, 0)]);
  }
  if (payment.status !== 'AUTHORIZED') {
    // Nothing is held (declined, voided, or already given back): still answer, moving nothing.
    return accept({}, [refunded(payment.customerId, 0)]);
  }
  const customerId = payment.customerId!;
  // An authorized payment's account should still exist; if it does not, the money re-opens
  // it rather than vanish.
  const credited: Account = account ? { ...account, balance: account.balance + payment.amount } : { customerId, balance: payment.amount };
  return accept({ payment: { ...payment, status: 'REFUNDED', refundedAmount: payment.amount }, account: credited }, [refunded(customerId, payment.amount)]);
}

function declined(order: OrderPlaced, reason: DeclineReason): PaymentOutput {
  return { type: 'PaymentDeclined', payload: { orderId: order.orderId, customerId: order.customerId, amount: order.total, reason } };
}
