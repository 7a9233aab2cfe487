import { createEnvelope, OrderPlaced, type Envelope } from '@app/contracts';

/** The one order the messaging unit tests pass around. */
export const fixtureOrderId = '3f1d7a43-2d5b-4c55-9b0c-3a3b3f0f4a11';

/** An OrderPlaced for one keyboard, as Order publishes it (a new message id each call). */
export const orderPlaced = (occurredAt = new Date()): Envelope<OrderPlaced> =>
  createEnvelope({
    type: OrderPlaced.type,
    key: fixtureOrderId,
    source: 'order',
    occurredAt,
    payload: {
      orderId: fixtureOrderId,
      customerId: 'alice',
      items: [{ sku: 'KB-001', quantity: 1, unitPrice: 100, lineTotal: 100 }],
      total: 100,
      currency: 'USD',
      email: null,
    },
  });
