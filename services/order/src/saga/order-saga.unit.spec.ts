import { specify } from '../../../../test/support/decider-spec';
import { decide, initialState, orderSaga, type SagaInput, type SagaOutput, type SagaState } from './order-saga';

/** Given a saga state, when a message arrives, then the new state and what is sent. */
const given = (over: Partial<SagaState> = {}): SagaState => ({ ...initialState, ...over });
const cancelling = (over: Partial<SagaState>): SagaState => given({ status: 'CANCELLING', ...over });
const when = (type: SagaInput['type']): SagaInput => ({ type });

interface Row {
  it: string;
  given: SagaState;
  when: SagaInput;
  then: { state: Partial<SagaState>; send: SagaOutput[] } | { rejected: RegExp };
}

const table: Row[] = [
  // happy path
  {
    it: 'when payment is authorized, it waits for stock',
    given: given(),
    when: when('PaymentAuthorized'),
    then: { state: { status: 'PENDING', payment: 'AUTHORIZED' }, send: [] },
  },
  {
    it: 'when stock is reserved after payment, it confirms the order',
    given: given({ payment: 'AUTHORIZED' }),
    when: when('StockReserved'),
    then: { state: { status: 'CONFIRMED', stock: 'RESERVED' }, send: [{ type: 'OrderConfirmed' }] },
  },
  {
    it: 'when stock is reserved before the payment news arrives, it confirms (the reservation implies the payment)',
    given: given(),
    when: when('StockReserved'),
    then: { state: { status: 'CONFIRMED', payment: 'AUTHORIZED', stock: 'RESERVED' }, send: [{ type: 'OrderConfirmed' }] },
  },
  {
    it: 'when payment authorization arrives after the confirmation, nothing changes',
    given: given({ status: 'CONFIRMED', payment: 'AUTHORIZED', stock: 'RESERVED' }),
    when: when('PaymentAuthorized'),
    then: { rejected: /CONFIRMED/ },
  },
  {
    it: 'when a payment is authorized twice, the second is not applied',
    given: given({ payment: 'AUTHORIZED' }),
    when: when('PaymentAuthorized'),
    then: { rejected: /already authorized/ },
  },

  // payment declined
  {
    it: 'when payment is declined, it cancels with nothing to compensate',
    given: given(),
    when: when('PaymentDeclined'),
    then: { state: { status: 'CANCELLED', reason: 'PAYMENT_DECLINED', payment: 'DECLINED' }, send: [{ type: 'OrderCancelled', reason: 'PAYMENT_DECLINED' }] },
  },

  // out of stock → refund → cancelled
  {
    it: 'when stock is rejected after payment, it refunds the payment and waits',
    given: given({ payment: 'AUTHORIZED' }),
    when: when('StockReservationFailed'),
    then: {
      state: { status: 'CANCELLING', reason: 'OUT_OF_STOCK', stock: 'FAILED', refundRequested: true, releaseRequested: false },
      send: [{ type: 'RefundPayment', reason: 'OUT_OF_STOCK' }],
    },
  },
  {
    it: 'when the refund for a stock failure arrives, it cancels the order',
    given: cancelling({ reason: 'OUT_OF_STOCK', payment: 'AUTHORIZED', stock: 'FAILED', refundRequested: true }),
    when: when('PaymentRefunded'),
    then: { state: { status: 'CANCELLED', payment: 'REFUNDED' }, send: [{ type: 'OrderCancelled', reason: 'OUT_OF_STOCK' }] },
  },

  // customer cancel
  {
    it: 'when a customer cancels a pending order, it asks for a refund and a release',
    given: given(),
    when: when('CancelRequested'),
    then: {
      state: { status: 'CANCELLING', reason: 'CUSTOMER_REQUEST', refundRequested: true, releaseRequested: true },
      send: [
        { type: 'RefundPayment', reason: 'CUSTOMER_REQUEST' },
        { type: 'ReleaseStock', reason: 'CUSTOMER_REQUEST' },
      ],
    },
  },
  {
    it: 'when a customer cancels a confirmed order, it undoes both payment and stock',
    given: given({ status: 'CONFIRMED', payment: 'AUTHORIZED', stock: 'RESERVED' }),
    when: when('CancelRequested'),
    then: {
      state: { status: 'CANCELLING', reason: 'CUSTOMER_REQUEST' },
      send: [
        { type: 'RefundPayment', reason: 'CUSTOMER_REQUEST' },
        { type: 'ReleaseStock', reason: 'CUSTOMER_REQUEST' },
      ],
    },
  },
  {
    it: 'when only the refund has answered, it keeps waiting for the release',
    given: cancelling({ reason: 'CUSTOMER_REQUEST', payment: 'AUTHORIZED', stock: 'RESERVED', refundRequested: true, releaseRequested: true }),
    when: when('PaymentRefunded'),
    then: { state: { status: 'CANCELLING', payment: 'REFUNDED' }, send: [] },
  },
  {
    it: 'when the release answers last, it cancels the order',
    given: cancelling({ reason: 'CUSTOMER_REQUEST', payment: 'REFUNDED', stock: 'RESERVED', refundRequested: true, releaseRequested: true }),
    when: when('StockReleased'),
    then: { state: { status: 'CANCELLED', stock: 'RELEASED' }, send: [{ type: 'OrderCancelled', reason: 'CUSTOMER_REQUEST' }] },
  },
  {
    it: 'when the release answers first, it waits for the refund',
    given: cancelling({ reason: 'CUSTOMER_REQUEST', refundRequested: true, releaseRequested: true }),
    when: when('StockReleased'),
    then: { state: { status: 'CANCELLING', stock: 'RELEASED' }, send: [] },
  },
  {
    it: 'when a cancelled order is cancelled again, it is refused',
    given: given({ status: 'CANCELLED', reason: 'CUSTOMER_REQUEST' }),
    when: when('CancelRequested'),
    then: { rejected: /already CANCELLED/ },
  },
  {
    it: 'when an order being cancelled is cancelled again, it is refused',
    given: cancelling({ reason: 'TIMEOUT' }),
    when: when('CancelRequested'),
    then: { rejected: /already CANCELLING/ },
  },
  {
    it: 'when a customer cancels after a decline, there is nothing left to undo',
    given: given({ status: 'CANCELLED', reason: 'PAYMENT_DECLINED', payment: 'DECLINED' }),
    when: when('CancelRequested'),
    then: { rejected: /already CANCELLED/ },
  },

  // deadline
  {
    it: 'when the deadline passes while pending, it cancels with TIMEOUT and compensates both',
    given: given(),
    when: when('DeadlineReached'),
    then: {
      state: { status: 'CANCELLING', reason: 'TIMEOUT' },
      send: [
        { type: 'RefundPayment', reason: 'TIMEOUT' },
        { type: 'ReleaseStock', reason: 'TIMEOUT' },
      ],
    },
  },
  {
    it: 'when the deadline passes after payment, it still compensates both',
    given: given({ payment: 'AUTHORIZED' }),
    when: when('DeadlineReached'),
    then: {
      state: { status: 'CANCELLING', reason: 'TIMEOUT', refundRequested: true, releaseRequested: true },
      send: [
        { type: 'RefundPayment', reason: 'TIMEOUT' },
        { type: 'ReleaseStock', reason: 'TIMEOUT' },
      ],
    },
  },
  {
    it: 'when the deadline passes on a confirmed order, nothing changes',
    given: given({ status: 'CONFIRMED', payment: 'AUTHORIZED', stock: 'RESERVED' }),
    when: when('DeadlineReached'),
    then: { rejected: /CONFIRMED/ },
  },
  {
    it: 'when the deadline passes during a cancellation, nothing changes',
    given: cancelling({ reason: 'CUSTOMER_REQUEST', refundRequested: true }),
    when: when('DeadlineReached'),
    then: { rejected: /CANCELLING/ },
  },

  // late messages after a cancellation
  {
    it: 'when stock is reserved after the timeout and its release was asked, it waits for that release',
    given: cancelling({ reason: 'TIMEOUT', refundRequested: true, releaseRequested: true }),
    when: when('StockReserved'),
    then: { rejected: /release already requested/ },
  },
  {
    it: 'when stock is reserved for a cancelled order that never asked for a release, it releases it',
    given: given({ status: 'CANCELLED', reason: 'PAYMENT_DECLINED', payment: 'DECLINED' }),
    when: when('StockReserved'),
    then: { state: { status: 'CANCELLED', stock: 'RESERVED', releaseRequested: true }, send: [{ type: 'ReleaseStock', reason: 'PAYMENT_DECLINED' }] },
  },
  {
    it: 'when a payment is authorized for a cancelled order that never asked for a refund, it refunds it',
    given: given({ status: 'CANCELLED', reason: 'PAYMENT_DECLINED', payment: 'DECLINED' }),
    when: when('PaymentAuthorized'),
    then: { state: { status: 'CANCELLED', payment: 'AUTHORIZED', refundRequested: true }, send: [{ type: 'RefundPayment', reason: 'PAYMENT_DECLINED' }] },
  },
  {
    it: 'when a payment is declined for an order already being cancelled, nothing changes',
    given: cancelling({ reason: 'TIMEOUT', refundRequested: true, releaseRequested: true }),
    when: when('PaymentDeclined'),
    then: { rejected: /CANCELLING/ },
  },
  {
    it: 'when stock fails for an order already being cancelled, nothing changes',
    given: cancelling({ reason: 'TIMEOUT', refundRequested: true, releaseRequested: true }),
    when: when('StockReservationFailed'),
    then: { rejected: /CANCELLING/ },
  },
  {
    it: 'when a late refund answer arrives for a cancelled order, it stays cancelled and sends nothing',
    given: given({ status: 'CANCELLED', reason: 'TIMEOUT', payment: 'REFUNDED', stock: 'RELEASED', refundRequested: true, releaseRequested: true }),
    when: when('PaymentRefunded'),
    then: { state: { status: 'CANCELLED' }, send: [] },
  },

  // DLQ compensation
  {
    it: 'when a saga step is dead-lettered while pending, it cancels with PROCESSING_FAILED and compensates',
    given: given(),
    when: when('SagaStepFailed'),
    then: {
      state: { status: 'CANCELLING', reason: 'PROCESSING_FAILED' },
      send: [
        { type: 'RefundPayment', reason: 'PROCESSING_FAILED' },
        { type: 'ReleaseStock', reason: 'PROCESSING_FAILED' },
      ],
    },
  },
  {
    it: 'when a saga step fails after confirmation, the order stays confirmed',
    given: given({ status: 'CONFIRMED', payment: 'AUTHORIZED', stock: 'RESERVED' }),
    when: when('SagaStepFailed'),
    then: { rejected: /CONFIRMED/ },
  },
  {
    it: 'when a step fails after an out-of-stock refund was asked, it only waits for that refund',
    given: cancelling({ reason: 'OUT_OF_STOCK', payment: 'AUTHORIZED', stock: 'FAILED', refundRequested: true }),
    when: when('SagaStepFailed'),
    then: { rejected: /CANCELLING/ },
  },

  // compensation answers without a request
  {
    it: 'when a refund answer arrives for a pending order, it is not applied',
    given: given(),
    when: when('PaymentRefunded'),
    then: { rejected: /without a compensation request/ },
  },
  {
    it: 'when a release answer arrives for a pending order, it is not applied',
    given: given(),
    when: when('StockReleased'),
    then: { rejected: /without a compensation request/ },
  },
];

const spec = specify(orderSaga);

describe('order saga', () => {
  it.each(table.map((r) => [r.it, r] as const))('%s', (_, row) => {
    const decided = spec.given(row.given).when(row.when);
    if ('rejected' in row.then) decided.thenRejects(row.then.rejected);
    else decided.then(row.then.state, row.then.send);
  });

  it('never leaves a terminal state for PENDING, whatever arrives', () => {
    const inputs: SagaInput['type'][] = [
      'PaymentAuthorized',
      'PaymentDeclined',
      'PaymentRefunded',
      'StockReserved',
      'StockReservationFailed',
      'StockReleased',
      'CancelRequested',
      'DeadlineReached',
      'SagaStepFailed',
    ];
    for (const status of ['CONFIRMED', 'CANCELLED'] as const) {
      for (const input of inputs) {
        const d = decide(given({ status, reason: status === 'CANCELLED' ? 'TIMEOUT' : null }), when(input));
        if (d.accepted) expect(d.state.status).not.toBe('PENDING');
      }
    }
  });
});
