import { OrderCancelled, OrderConfirmed, OrderPlaced, type CancellationReason, type Envelope } from '@app/contracts';

/**
 * What Analytics knows of one order, folded from the order's events. Pure: no I/O, no clock,
 * so the same fold can run behind RabbitMQ today and Kafka tomorrow.
 *
 * Events arrive at least once and not necessarily in order (a redelivered OrderPlaced can land
 * after OrderConfirmed). The fold is built to give the same fact whatever the order and however
 * often each event is seen:
 * - the status only moves forward, PENDING < CONFIRMED < CANCELLED (the saga can cancel a
 *   confirmed order, never confirm a cancelled one), so a late event never regresses it;
 * - the completion time and reason belong to the event that set the current status;
 * - customer, total, currency and placing time are the same on every event of an order, so the
 *   first event that carries them fills them and later ones leave them be.
 */
export type OrderFactStatus = 'PENDING' | 'CONFIRMED' | 'CANCELLED';

export interface OrderFact {
  orderId: string;
  customerId: string | null;
  status: OrderFactStatus;
  /** Minor units. */
  total: number | null;
  currency: string | null;
  cancellationReason: CancellationReason | null;
  /** ISO-8601 instants. */
  placedAt: string | null;
  completedAt: string | null;
}

export const orderEventTypes: readonly string[] = [OrderPlaced.type, OrderConfirmed.type, OrderCancelled.type];

export function isOrderEvent(message: Pick<Envelope, 'type'>): boolean {
  return orderEventTypes.includes(message.type);
}

const rank: Record<OrderFactStatus, number> = { PENDING: 0, CONFIRMED: 1, CANCELLED: 2 };

export function isTerminal(status: OrderFactStatus): boolean {
  return status !== 'PENDING';
}

/** What one event says about its order. */
interface Observation {
  orderId: string;
  status: OrderFactStatus;
  customerId: string;
  total: number;
  currency: string;
  placedAt: string;
  completedAt: string | null;
  reason: CancellationReason | null;
}

// The consumer pipeline has already validated each payload against its contract.
function observe(message: Envelope): Observation | null {
  switch (message.type) {
    case OrderPlaced.type: {
      const p = message.payload as OrderPlaced;
      return {
        orderId: p.orderId,
        status: 'PENDING',
        customerId: p.customerId,
        total: p.total,
        currency: p.currency,
        placedAt: message.occurredAt,
        completedAt: null,
        reason: null,
      };
    }
    case OrderConfirmed.type: {
      const p = message.payload as OrderConfirmed;
      return {
        orderId: p.orderId,
        status: 'CONFIRMED',
        customerId: p.customerId,
        total: p.total,
        currency: p.currency,
        placedAt: p.placedAt,
        completedAt: message.occurredAt,
        reason: null,
      };
    }
    case OrderCancelled.type: {
      const p = message.payload as OrderCancelled;
      return {
        orderId: p.orderId,
        status: 'CANCELLED',
        customerId: p.customerId,
        total: p.total,
        currency: p.currency,
        placedAt: p.placedAt,
        completedAt: message.occurredAt,
        reason: p.reason,
      };
    }
    default:
      return null;
  }
}

/** The order id an order event is about; null for any other message. */
export function orderIdOf(message: Envelope): string | null {
  return observe(message)?.orderId ?? null;
}

/**
 * The fact after `message`, given the fact before it (null: the order is new to Analytics).
 * Null when the message is not an order event, i.e. there is nothing to project.
 */
export function project(fact: OrderFact | null, message: Envelope): OrderFact | null {
  const seen = observe(message);
  if (!seen) return null;
  if (fact && fact.orderId !== seen.orderId) throw new Error(`fact for order ${fact.orderId} given an event for ${seen.orderId}`);
  const advances = !fact || rank[seen.status] > rank[fact.status];
  return {
    orderId: seen.orderId,
    customerId: fact?.customerId ?? seen.customerId,
    status: advances ? seen.status : fact.status,
    total: fact?.total ?? seen.total,
    currency: fact?.currency ?? seen.currency,
    cancellationReason: advances ? seen.reason : fact.cancellationReason,
    placedAt: fact?.placedAt ?? seen.placedAt,
    completedAt: advances ? seen.completedAt : fact.completedAt,
  };
}
