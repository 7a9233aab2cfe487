/**
 * Who consumes what on the saga exchange: each consumer's queue and its bindings. Every
 * service declares all of it when it connects (idempotently), so a message published before
 * its consumer first started still lands in that consumer's queue. A unit test keeps this in
 * step with each service's handlers.
 */
export const sagaTopology: Record<string, string[]> = {
  order: [
    'payment.payment-authorized',
    'payment.payment-declined',
    'payment.payment-refunded',
    'inventory.stock-reserved',
    'inventory.stock-reservation-failed',
    'inventory.stock-released',
    '*.saga-step-failed',
  ],
  payment: ['order.order-placed', 'order.refund-payment'],
  inventory: ['payment.payment-authorized', 'order.release-stock'],
  // The saga's outcomes, for the customer's email; their queue shows them in the management UI.
  notification: ['order.order-confirmed', 'order.order-cancelled'],
};
// Analytics reads the event stream (Kafka), not this exchange.
