import type { Envelope, MessageContract, MessageOf } from '@app/contracts';
import { tracingEnabled, withLogContext } from '@app/platform';
import type { MessageResult, Tx } from './unit-of-work';

export { failed, handled, type MessageResult } from './unit-of-work';

/** A message a service consumes: its contract, and the service that publishes it (`*`: any). */
export interface Subscription<C extends MessageContract = MessageContract> {
  readonly contract: C;
  readonly from: string;
}

/** `on(PaymentAuthorized, 'payment')`: the message's type flows from the contract to the handler. */
export function on<C extends MessageContract>(contract: C, from: string): Subscription<C> {
  return { contract, from };
}

/** The messages a list of subscriptions delivers: a union discriminated by `type`. */
export type MessagesOf<S extends readonly Subscription[]> = MessageOf<S[number]['contract']>;

/**
 * The one handler shape: a service's messages, a batch at a time, inside the unit of work's
 * transaction (the inbox has already dropped duplicates). Set-based: load every key the batch
 * touches in one statement, decide each message in memory in arrival order, write in one
 * statement, send through `tx.send`. A message that cannot be handled is reported failed, and
 * must have left no effect: the others of its batch commit, it goes through the retry policy.
 */
export interface BatchHandler<S extends readonly Subscription[] = readonly Subscription[]> {
  readonly subscriptions: S;
  handle(tx: Tx, messages: Array<MessagesOf<S>>): Promise<MessageResult[]>;
}

/**
 * Runs `fn` with the message's correlation, message and causation ids on every log line, and
 * its trace: the consumer has made the envelope's traceparent its own span's, so while tracing
 * is on the line carries the span it is handled in (a traceparent a sender put there while this
 * service traces nothing names no span of ours, and is left out).
 */
export function asMessage<T>(message: Envelope, fn: () => T): T {
  const trace = tracingEnabled() ? /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/.exec(message.traceparent ?? '') : null;
  return withLogContext(
    {
      correlationId: message.correlationId,
      causationId: message.causationId,
      messageId: message.messageId,
      messageType: message.type,
      ...(trace ? { traceId: trace[1], spanId: trace[2] } : {}),
    },
    fn,
  );
}
