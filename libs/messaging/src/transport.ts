import type { Envelope } from '@app/contracts';

/**
 * The transport seam. RabbitMQ and the in-memory bus implement it; handlers never see it:
 * they receive validated envelopes from the consumer pipeline and send through the outbox.
 */
export interface OutgoingMessage {
  envelope: Envelope;
  routingKey: string;
  /** The envelope as JSON, when it was already serialized (the outbox stores the same text). */
  body?: string;
}

export interface Publisher {
  /** Resolves only once the broker has accepted (confirmed) every message in the batch. */
  publish(messages: readonly OutgoingMessage[]): Promise<void>;
  /**
   * Where a message goes, as OpenTelemetry's messaging conventions name it: the system
   * (`rabbitmq`, `kafka`; `memory` for the embedded mode's) and the destination (the exchange,
   * the topic). For the outbox's `send` spans; a publisher without it sends untraced.
   */
  destinationOf?(message: OutgoingMessage): { system: string; name: string };
}

export interface FailureInfo {
  error: string;
  stack?: string;
  /** Handler invocations so far, immediate retries included. */
  attempts: number;
  /** Deliveries so far (1 + delayed retries). */
  deliveries: number;
  nonRetryable: boolean;
  firstFailedAt: string;
  failedAt: string;
}

export interface InboundDelivery {
  readonly body: string;
  readonly routingKey: string;
  readonly headers: Readonly<Record<string, unknown>>;
  /** 1 on the first delivery; each delayed retry adds one. */
  readonly deliveryCount: number;
  /** The handler succeeded (or the message is a duplicate): forget it. */
  ack(): Promise<void>;
  /** Redeliver to this consumer after `delayMs`. */
  retryLater(delayMs: number, failure: FailureInfo): Promise<void>;
  /** Move to this consumer's dead-letter queue, keeping the body and original headers. */
  deadLetter(failure: FailureInfo): Promise<void>;
}

export interface ConsumerSpec {
  /** The consumer's own durable queue, e.g. `payment`. */
  queue: string;
  /** Topic bindings, `*` one word, `#` any number of words. */
  bindings: string[];
  /** How many deliveries may be in flight at once. */
  prefetch: number;
}

export interface TransportSubscription {
  /** Stop taking new deliveries and wait for in-flight ones to finish. */
  close(): Promise<void>;
}

export interface DeadLetter {
  id: string;
  queue: string;
  routingKey: string;
  body: string;
  headers: Record<string, unknown>;
  failure: FailureInfo;
  deadLetteredAt: string;
}

export interface DeadLetterPage {
  offset: number;
  limit: number;
}

/** How deep into a dead-letter queue a listing may reach (RabbitMQ reads a queue from its head). */
export const MAX_DEAD_LETTER_POSITION = 10_000;

export interface Transport extends Publisher {
  subscribe(spec: ConsumerSpec, onDelivery: (delivery: InboundDelivery) => Promise<void>): Promise<TransportSubscription>;
  /** The dead-letter queue of a consumer, oldest first: `limit` of them from position `offset`. */
  deadLetters(queue: string, page?: DeadLetterPage): Promise<DeadLetter[]>;
  /** How many messages the consumer's dead-letter queue holds (all of them, not only the listable first ones). */
  deadLetterCount(queue: string): Promise<number>;
  /**
   * Sends dead letters (one by id, or all) back to the consumer's own queue with their attempts
   * reset and the replay recorded in their headers; returns how many. The consumer's inbox
   * makes a replay of an already-applied message a no-op.
   */
  replayDeadLetters(queue: string, id?: string): Promise<number>;
  /** Deletes dead letters (one by id, or all); returns how many. */
  purgeDeadLetters(queue: string, id?: string): Promise<number>;
  isReady(): boolean;
  close(): Promise<void>;
}

export const TRANSPORT = Symbol('TRANSPORT');
