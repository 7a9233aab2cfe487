import type { CancellationReason } from '@app/contracts';
import { accept, reject, unreachable, type Decider, type Decision as DeciderDecision } from '@app/messaging';

/**
 * The order saga, decided purely: given the saga's state and one message, the new state and
 * what to send. Order owns the outcome; Payment and Inventory act on its messages and answer.
 *
 *   PENDING ──PaymentAuthorized──▶ PENDING ──StockReserved──▶ CONFIRMED
 *      │ PaymentDeclined ─────────────────────────────────────▶ CANCELLED
 *      │ StockReservationFailed ─▶ CANCELLING (refund) ──PaymentRefunded──▶ CANCELLED
 *      │ cancel / deadline / step failed ─▶ CANCELLING (refund + release) ──both answered──▶ CANCELLED
 *   CONFIRMED ──cancel──▶ CANCELLING (refund + release) ──both answered──▶ CANCELLED
 */
export type OrderStatus = 'PENDING' | 'CANCELLING' | 'CONFIRMED' | 'CANCELLED';
export type PaymentState = 'UNKNOWN' | 'AUTHORIZED' | 'DECLINED' | 'REFUNDED';
export type StockState = 'UNKNOWN' | 'RESERVED' | 'FAILED' | 'RELEASED';

export interface SagaState {
  status: OrderStatus;
  reason: CancellationReason | null;
  payment: PaymentState;
  stock: StockState;
  refundRequested: boolean;
  releaseRequested: boolean;
}

export type SagaInput =
  | { type: 'PaymentAuthorized' }
  | { type: 'PaymentDeclined' }
  | { type: 'PaymentRefunded' }
  | { type: 'StockReserved' }
  | { type: 'StockReservationFailed' }
  | { type: 'StockReleased' }
  | { type: 'CancelRequested' }
  | { type: 'DeadlineReached' }
  | { type: 'SagaStepFailed' };

export type SagaOutput =
  | { type: 'OrderConfirmed' }
  | { type: 'OrderCancelled'; reason: CancellationReason }
  | { type: 'RefundPayment'; reason: CancellationReason }
  | { type: 'ReleaseStock'; reason: CancellationReason };

export type Decision = DeciderDecision<SagaState, SagaOutput>;

export const initialState: SagaState = {
  status: 'PENDING',
  reason: null,
  payment: 'UNKNOWN',
  stock: 'UNKNOWN',
  refundRequested: false,
  releaseRequested: false,
};

/** Order's saga as a decider: the one shape Payment's and Inventory's decisions have too. */
export const orderSaga: Decider<SagaState, SagaInput, SagaOutput> = { decide };

export function decide(s: SagaState, input: SagaInput): Decision {
  switch (s.status) {
    case 'PENDING':
      return pending(s, input);
    case 'CONFIRMED':
      return confirmed(s, input);
    case 'CANCELLING':
    case 'CANCELLED':
      return cancelled(s, input);
    default:
      return unreachable(s.status);
  }
}

function pending(s: SagaState, input: SagaInput): Decision {
  switch (input.type) {
    case 'PaymentAuthorized':
      if (s.payment === 'AUTHORIZED') return reject('payment already authorized');
      return accept({ ...s, payment: 'AUTHORIZED' });
    case 'PaymentDeclined':
      // Nothing was taken and Inventory never heard of the order: nothing to undo.
      return accept({ ...s, status: 'CANCELLED', reason: 'PAYMENT_DECLINED', payment: 'DECLINED' }, [{ type: 'OrderCancelled', reason: 'PAYMENT_DECLINED' }]);
    case 'StockReserved':
      // Inventory reserves only after payment, so a reservation implies the payment, even if
      // PaymentAuthorized has not reached us yet.
      return accept({ ...s, status: 'CONFIRMED', payment: 'AUTHORIZED', stock: 'RESERVED' }, [{ type: 'OrderConfirmed' }]);
    case 'StockReservationFailed':
      return cancel({ ...s, payment: 'AUTHORIZED', stock: 'FAILED' }, 'OUT_OF_STOCK');
    case 'CancelRequested':
      return cancel(s, 'CUSTOMER_REQUEST');
    case 'DeadlineReached':
      return cancel(s, 'TIMEOUT');
    case 'SagaStepFailed':
      return cancel(s, 'PROCESSING_FAILED');
    case 'PaymentRefunded':
    case 'StockReleased':
      return reject(`${input.type} without a compensation request`);
    default:
      return unreachable(input);
  }
}

function confirmed(s: SagaState, input: SagaInput): Decision {
  switch (input.type) {
    case 'CancelRequested':
      return cancel(s, 'CUSTOMER_REQUEST');
    case 'PaymentAuthorized':
    case 'PaymentDeclined':
    case 'PaymentRefunded':
    case 'StockReserved':
    case 'StockReservationFailed':
    case 'StockReleased':
    case 'DeadlineReached':
    case 'SagaStepFailed':
      return reject(`order is CONFIRMED; ${input.type} changes nothing`);
    default:
      return unreachable(input);
  }
}

function cancelled(s: SagaState, input: SagaInput): Decision {
  switch (input.type) {
    case 'PaymentRefunded':
      return settle({ ...s, payment: 'REFUNDED' });
    case 'StockReleased':
      return settle({ ...s, stock: 'RELEASED' });
    case 'PaymentAuthorized':
      // Late news of a charge: make sure it is given back.
      if (s.refundRequested) return reject('refund already requested');
      return accept({ ...s, payment: 'AUTHORIZED', refundRequested: true }, [{ type: 'RefundPayment', reason: reasonOf(s) }]);
    case 'StockReserved':
      if (s.releaseRequested) return reject('release already requested');
      return accept({ ...s, stock: 'RESERVED', releaseRequested: true }, [{ type: 'ReleaseStock', reason: reasonOf(s) }]);
    case 'CancelRequested':
      return reject(`order is already ${s.status}`);
    case 'PaymentDeclined':
    case 'StockReservationFailed':
    case 'DeadlineReached':
    case 'SagaStepFailed':
      return reject(`order is ${s.status}; ${input.type} changes nothing`);
    default:
      return unreachable(input);
  }
}

/** Cancel and ask for every compensation that could be needed; the participants answer each. */
function cancel(s: SagaState, reason: CancellationReason): Decision {
  const send: SagaOutput[] = [];
  const needRefund = s.payment !== 'DECLINED' && s.payment !== 'REFUNDED';
  // Inventory hears of an order only after its payment; after a decline or failure it holds nothing.
  const needRelease = s.payment !== 'DECLINED' && s.stock !== 'FAILED' && s.stock !== 'RELEASED';
  if (needRefund) send.push({ type: 'RefundPayment', reason });
  if (needRelease) send.push({ type: 'ReleaseStock', reason });
  const next: SagaState = { ...s, status: 'CANCELLING', reason, refundRequested: needRefund, releaseRequested: needRelease };
  if (send.length === 0) return accept({ ...next, status: 'CANCELLED' }, [{ type: 'OrderCancelled', reason }]);
  return accept(next, send);
}

/** In CANCELLING, the order is CANCELLED once every requested compensation has answered. */
function settle(s: SagaState): Decision {
  if (s.status !== 'CANCELLING') return accept(s);
  const refundDone = !s.refundRequested || s.payment === 'REFUNDED';
  const releaseDone = !s.releaseRequested || s.stock === 'RELEASED';
  if (refundDone && releaseDone) return accept({ ...s, status: 'CANCELLED' }, [{ type: 'OrderCancelled', reason: reasonOf(s) }]);
  return accept(s);
}

/** A cancelling or cancelled order always has its reason (cancel() sets it). */
function reasonOf(s: SagaState): CancellationReason {
  if (s.reason === null) throw new Error(`an order in ${s.status} without a cancellation reason`);
  return s.reason;
}

export function isTerminal(status: OrderStatus): status is 'CONFIRMED' | 'CANCELLED' {
  return status === 'CONFIRMED' || status === 'CANCELLED';
}
