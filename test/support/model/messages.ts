import {
  contracts,
  routingKeyFor,
  sagaTopology,
  type OrderCancelled,
  type OrderConfirmed,
  type OrderDeadlineReached,
  type OrderPlaced,
  type PaymentAuthorized,
  type PaymentDeclined,
  type PaymentRefunded,
  type RefundPayment,
  type ReleaseStock,
  type SagaStepFailed,
  type StockReleased,
  type StockReservationFailed,
  type StockReserved,
} from '@app/contracts';
import { topicMatches } from '@app/messaging';

/**
 * The messages of the model: what the handlers read of an envelope (id, cause, sender, type,
 * payload), each payload typed by its contract. Routing follows the real topology.
 */
export type Service = 'order' | 'payment' | 'inventory';
export const services: readonly Service[] = ['order', 'payment', 'inventory'];

export interface Payloads {
  OrderPlaced: OrderPlaced;
  PaymentAuthorized: PaymentAuthorized;
  PaymentDeclined: PaymentDeclined;
  PaymentRefunded: PaymentRefunded;
  StockReserved: StockReserved;
  StockReservationFailed: StockReservationFailed;
  StockReleased: StockReleased;
  RefundPayment: RefundPayment;
  ReleaseStock: ReleaseStock;
  OrderConfirmed: OrderConfirmed;
  OrderCancelled: OrderCancelled;
  SagaStepFailed: SagaStepFailed;
  OrderDeadlineReached: OrderDeadlineReached;
}
export type MessageType = keyof Payloads;

type Messages = { [K in MessageType]: { messageId: string; causationId: string | null; source: Service; type: K; payload: Payloads[K] } };
export type Message<K extends MessageType = MessageType> = Messages[K];

export function message<K extends MessageType>(type: K, payload: Payloads[K], source: Service, messageId: string, causationId: string | null): Message<K> {
  // TypeScript cannot narrow a generic K into the mapped type's entry; the fields are exactly it.
  return { messageId, causationId, source, type, payload } as Message<K>;
}

/** The queues a message lands in: the services whose bindings in `sagaTopology` match its routing key. */
export function consumersOf(m: Pick<Message, 'source' | 'type'>): Service[] {
  const key = routingKeyFor(m.source, m.type);
  return services.filter((s) => (sagaTopology[s] ?? []).some((binding) => topicMatches(binding, key)));
}

/** Why the payload breaks its contract (the consumer would dead-letter it), or null. */
export function contractViolation(m: Message): string | null {
  const contract = contracts[m.type];
  if (!contract) return `no contract for ${m.type}`;
  const parsed = contract.schema.safeParse(m.payload);
  return parsed.success ? null : parsed.error.message;
}

/** A UUID made from a number, so ids are deterministic and the contracts' `uuid()` accepts them. */
export const uuid = (n: number): string => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
