import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { createEnvelope, PaymentAuthorized, ReleaseStock } from '@app/contracts';
import { asMessage, handled, LOGGER, on, type BatchHandler, type MessageResult, type MessagesOf, type Tx } from '@app/messaging';
import { CLOCK, type Clock, type Logger } from '@app/platform';
import { reservations, skusToLock, type InventoryInput, type StockLevel } from './reservation.decide';
import { lockReservationsAndStock, writeReservations, type ReservationRow } from './reservations.sql';

export const SERVICE = 'inventory';

/** What Inventory consumes from the bus; `libs/contracts/src/topology.ts` binds exactly these. */
export const inventorySubscriptions = [on(PaymentAuthorized, 'payment'), on(ReleaseStock, 'order')] as const;
type InventoryMessage = MessagesOf<typeof inventorySubscriptions>;

function inputOf(m: InventoryMessage): InventoryInput {
  return m.type === 'PaymentAuthorized'
    ? { type: 'PaymentAuthorized', orderId: m.payload.orderId, items: m.payload.items.map((l) => ({ sku: l.sku, quantity: l.quantity })) }
    : { type: 'ReleaseStock', orderId: m.payload.orderId, reason: m.payload.reason };
}

/**
 * Inventory's handler, a batch at a time: one statement takes the batch's order locks and loads
 * (locked) their reservations and every stock row they can touch; each message is decided in
 * memory in arrival order, so two orders for one SKU see each other's reservations and neither
 * oversells; one statement writes the reservations and stock levels; the answers go to the
 * outbox.
 */
@Injectable()
export class InventoryHandlers implements BatchHandler<typeof inventorySubscriptions> {
  readonly subscriptions = inventorySubscriptions;

  constructor(
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async handle(tx: Tx, messages: InventoryMessage[]): Promise<MessageResult[]> {
    const inputs = messages.map(inputOf);
    const orderIds = [...new Set(inputs.map((i) => i.orderId))].sort();
    // The SKUs a payment may reserve; a release's SKUs are its reservation's, which the load adds.
    const skus = [...new Set(inputs.flatMap((i) => skusToLock(null, i)))];
    const loaded = await lockReservationsAndStock(tx.sql, orderIds, skus);
    const held = new Map(loaded.reservations);
    const levels = new Map(loaded.stock);
    const changedReservations = new Set<string>();
    const changedStock = new Set<string>();
    const now = this.clock.now();

    messages.forEach((m, i) =>
      asMessage(m, () => {
        const input = inputs[i];
        const existing = held.get(input.orderId) ?? null;
        const stock = skusToLock(existing, input).map((sku): StockLevel => levels.get(sku) ?? { sku, available: 0, reserved: 0 });
        const decision = reservations.decide({ reservation: existing, stock }, input);
        if (!decision.accepted) {
          this.logger.info('inventory did not accept the message', { orderId: input.orderId, type: m.type, status: existing?.status, why: decision.why });
          return;
        }
        const next = decision.state.reservation;
        if (next && next !== existing) {
          const row: ReservationRow = { ...next, id: existing?.id ?? randomUUID(), orderId: input.orderId };
          held.set(input.orderId, row);
          changedReservations.add(input.orderId);
        }
        const moved = decision.state.stock.filter((l) => levels.has(l.sku) && levels.get(l.sku) !== l);
        for (const l of moved) {
          levels.set(l.sku, l);
          changedStock.add(l.sku);
        }
        tx.send(
          ...decision.send.map((out) =>
            createEnvelope({ type: out.type, key: input.orderId, source: SERVICE, causedBy: m, occurredAt: now, payload: out.payload }),
          ),
        );
        this.logger.debug('inventory step', {
          orderId: input.orderId,
          input: input.type,
          status: next?.status ?? existing?.status,
          sent: decision.send.map((o) => o.type),
          ...(moved.length > 0 ? { stock: moved } : {}),
        });
      }),
    );
    await writeReservations(
      tx.sql,
      [...changedReservations].map((id) => held.get(id)!),
      [...changedStock].sort().map((sku) => levels.get(sku)!),
      now,
    );
    return messages.map(() => handled);
  }
}
