import { topicMatches } from './topic';

describe('topic bindings', () => {
  it.each([
    ['order.order-placed', 'order.order-placed', true],
    ['order.order-placed', 'order.order-confirmed', false],
    ['*.saga-step-failed', 'payment.saga-step-failed', true],
    ['*.saga-step-failed', 'saga-step-failed', false],
    ['#', 'payment.payment-authorized', true],
    ['order.#', 'order', true],
    ['order.#', 'order.a.b', true],
    ['#.refund-payment', 'order.refund-payment', true],
    ['order.*', 'order.a.b', false],
  ])('binding %s %s routing key %s', (pattern, key, expected) => {
    expect(topicMatches(pattern, key)).toBe(expected);
  });
});
