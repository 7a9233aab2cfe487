import { routingKeyFor, sagaTopology } from '@app/contracts';
import type { MessageHandlers } from '@app/messaging';
import { InventoryHandlers } from '../services/inventory/src/reservations/reservation.handlers';
import { OrderSagaHandlers } from '../services/order/src/saga/order-saga.handlers';
import { PaymentHandlers } from '../services/payment/src/payments/payment.handlers';

/** Every service declares `sagaTopology` at connect; it must bind exactly what each handles. */
describe('saga topology', () => {
  const none = undefined as never;
  const handlers: Record<string, MessageHandlers> = {
    order: new OrderSagaHandlers(none, none, none),
    payment: new PaymentHandlers(none, none, none, none),
    inventory: new InventoryHandlers(none, none),
  };

  it.each(Object.keys(handlers))('binds %s to exactly the messages it handles', (service) => {
    const bindings = handlers[service].registrations().map((r) => routingKeyFor(r.from, r.contract.type));
    expect([...bindings].sort()).toEqual([...sagaTopology[service]].sort());
  });

  it('has no queue for analytics, which reads the event stream instead', () => {
    expect(sagaTopology.analytics).toBeUndefined();
  });
});
