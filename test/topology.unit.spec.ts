import { routingKeyFor, sagaTopology } from '@app/contracts';
import type { Subscription } from '@app/messaging';
import { inventorySubscriptions } from '../services/inventory/src/reservations/reservation.handlers';
import { orderSubscriptions } from '../services/order/src/saga/order-saga.handlers';
import { paymentSubscriptions } from '../services/payment/src/payments/payment.handlers';
import { notificationSubscriptions } from '../services/notification/src/notifications/notification.handlers';

/** Every service declares `sagaTopology` at connect; it must bind exactly what each handles. */
describe('saga topology', () => {
  const subscriptions: Record<string, readonly Subscription[]> = {
    order: orderSubscriptions,
    payment: paymentSubscriptions,
    inventory: inventorySubscriptions,
    notification: notificationSubscriptions,
  };

  it.each(Object.keys(subscriptions))('binds %s to exactly the messages it handles', (service) => {
    const bindings = subscriptions[service].map((s) => routingKeyFor(s.from, s.contract.type));
    expect([...bindings].sort()).toEqual([...sagaTopology[service]].sort());
  });

  it('declares no queue that no service consumes', () => {
    expect(Object.keys(sagaTopology).sort()).toEqual(Object.keys(subscriptions).sort());
  });

  it('has no queue for analytics, which reads the event stream instead', () => {
    expect(sagaTopology.analytics).toBeUndefined();
  });
});
