import { Inject, Injectable } from '@nestjs/common';
import { createEnvelope, PaymentAuthorized, ReleaseStock, type Envelope } from '@app/contracts';
import { LOGGER, UnitOfWork, type HandlerRegistration, type MessageHandlers } from '@app/messaging';
import type { Logger } from '@app/platform';
import { lockStock, saveStockLevels } from '../stock/stock.repository';
import { decide, skusToLock, type InventoryInput } from './reservation.decide';
import { lockOrder, lockReservation, reservationOf, saveReservation } from './reservations.repository';

export const SERVICE = 'inventory';

/**
 * Inventory's message handlers. Each is the one handler shape: inbox (a duplicate ends
 * there), lock and load, decide, save, outbox, one commit.
 */
@Injectable()
export class InventoryHandlers implements MessageHandlers {
  constructor(
    private readonly uow: UnitOfWork,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  registrations(): HandlerRegistration[] {
    return [
      {
        contract: PaymentAuthorized,
        from: 'payment',
        handle: (m: Envelope<PaymentAuthorized>) =>
          this.onMessage(m, {
            type: 'PaymentAuthorized',
            orderId: m.payload.orderId,
            items: m.payload.items.map((l) => ({ sku: l.sku, quantity: l.quantity })),
          }),
      },
      {
        contract: ReleaseStock,
        from: 'order',
        handle: (m: Envelope<ReleaseStock>) => this.onMessage(m, { type: 'ReleaseStock', orderId: m.payload.orderId, reason: m.payload.reason }),
      },
    ];
  }

  async onMessage(message: Envelope, input: InventoryInput): Promise<void> {
    const { orderId } = input;
    const result = await this.uow.handle(SERVICE, message, async (tx) => {
      // Lock order: the order, its reservation row, then the stock rows by SKU (see lockStock).
      await lockOrder(tx.manager, orderId);
      const existing = await lockReservation(tx.manager, orderId);
      const reservation = existing ? reservationOf(existing) : null;
      const stock = await lockStock(tx.manager, skusToLock(reservation, input));
      const decision = decide({ reservation, stock }, input);
      if (!decision.accepted) {
        this.logger.info('inventory did not accept the message', { orderId, type: message.type, status: reservation?.status, why: decision.why });
        return;
      }
      if (decision.reservation) await saveReservation(tx.manager, orderId, existing, decision.reservation);
      await saveStockLevels(tx.manager, decision.stock);
      await tx.send(...decision.send.map((out) => createEnvelope({ type: out.type, key: orderId, source: SERVICE, causedBy: message, payload: out.payload })));
      this.logger.info('inventory step', {
        orderId,
        input: input.type,
        status: decision.reservation?.status ?? reservation?.status,
        sent: decision.send.map((o) => o.type),
        ...(decision.stock.length > 0 ? { stock: decision.stock } : {}),
      });
    });
    if (result === 'duplicate') this.logger.info('duplicate message ignored', { orderId, type: message.type });
  }
}
