import type { z } from 'zod';
import type { Versioned } from './versioning';
import { OrderCancelled, OrderConfirmed, OrderDeadlineReached, OrderPlaced, RefundPayment, ReleaseStock } from './orders.contracts';
import { PaymentAuthorized, PaymentDeclined, PaymentRefunded } from './payments.contracts';
import { StockReleased, StockReservationFailed, StockReserved } from './inventory.contracts';
import { SagaStepFailed } from './saga.contracts';

export interface MessageContract<S extends z.ZodTypeAny = z.ZodTypeAny, T extends string = string> extends Versioned {
  readonly type: T;
  /** The newest version: what producers send, what the schema describes (ADR 0010). */
  readonly version: number;
  readonly schema: S;
}

/** Every contract, by type. The consumer pipeline validates each payload against it. */
export const contracts: Record<string, MessageContract> = Object.fromEntries(
  [
    OrderPlaced,
    OrderConfirmed,
    OrderCancelled,
    RefundPayment,
    ReleaseStock,
    OrderDeadlineReached,
    PaymentAuthorized,
    PaymentDeclined,
    PaymentRefunded,
    StockReserved,
    StockReservationFailed,
    StockReleased,
    SagaStepFailed,
  ].map((c) => [c.type, c as MessageContract]),
);

/** `OrderPlaced` → `order-placed`. */
export function kebab(type: string): string {
  return type.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

/**
 * Routing keys read as `<source service>.<message>`, e.g. `order.order-placed`, so bindings
 * and the broker's management UI say who sent what.
 */
export function routingKeyFor(source: string, type: string): string {
  return `${source}.${kebab(type)}`;
}
