import { connect, Socket } from 'node:net';
import { Kafka, logLevel, type ISocketFactoryArgs, type RetryOptions } from 'kafkajs';
import type { Logger } from '@app/platform';
import { kafkaLogCreator } from './kafka.log';

/**
 * kafkajs' own production defaults, spelled out: kafkajs switches to much shorter ones when
 * NODE_ENV=test, and tests should see what production sees.
 */
export const RETRY: RetryOptions = { initialRetryTime: 300, maxRetryTime: 30_000, factor: 0.2, multiplier: 2, retries: 5 };

/**
 * How long one request may wait for its answer before kafkajs fails it (and its own retries take
 * over). kafkajs' default is 30 s; on the brokers this adapter talks to, an answer takes
 * milliseconds, and a request the broker will never answer should not hold its caller that long.
 */
const REQUEST_TIMEOUT_MS = 10_000;

export interface KafkaClientSettings {
  brokers: string[];
  clientId: string;
  logger: Logger;
}

/** An awaited Kafka call that did not settle in time; its client has been discarded. */
export class KafkaDeadlineError extends Error {
  override readonly name = 'KafkaDeadlineError';
}

/**
 * One kafkajs client (its own broker connections) for one producer, admin or consumer, and the
 * means to get rid of it. kafkajs can leave a call pending forever: a request queued on a
 * connection that is being closed is neither answered, nor rejected, nor timed out (its timeout
 * check stops with the connection), and everything awaiting it (a send, a commit, a consumer's
 * fetch loop) waits with it. Nothing in kafkajs cancels such a call, so the adapter puts a
 * deadline on every call it awaits and, when one passes, discards the whole client: its sockets
 * are destroyed with an error, which rejects whatever kafkajs still has in flight on them, and it
 * may never open another one, so nothing it still retries in the background can reach the broker
 * (a produce abandoned here and written later would be a duplicate the outbox cannot know of).
 * The caller then builds a new client.
 */
export class KafkaClient {
  readonly kafka: Kafka;
  private readonly sockets = new Set<Socket>();
  private discarded?: Error;

  constructor(settings: KafkaClientSettings) {
    this.kafka = new Kafka({
      clientId: settings.clientId,
      brokers: settings.brokers,
      connectionTimeout: 3000,
      requestTimeout: REQUEST_TIMEOUT_MS,
      retry: RETRY,
      // kafkajs' debug lines (every request) only when ours are wanted too: they are many.
      logLevel: process.env.LOG_LEVEL === 'debug' ? logLevel.DEBUG : logLevel.INFO,
      logCreator: kafkaLogCreator(settings.logger.child({ component: 'kafkajs' })),
      socketFactory: (args) => this.socket(args),
    });
  }

  get isDiscarded(): boolean {
    return this.discarded !== undefined;
  }

  /** Cuts every connection of this client and refuses new ones; idempotent. */
  discard(reason: string): void {
    if (this.discarded) return;
    this.discarded = new Error(`Kafka client discarded: ${reason}`);
    for (const socket of this.sockets) socket.destroy(this.discarded);
    this.sockets.clear();
  }

  /** kafkajs' own socket factory (plain TCP, keep-alive after 60 s), with the sockets kept track of. */
  private socket({ host, port, onConnect }: ISocketFactoryArgs): Socket {
    if (this.discarded) {
      // kafkajs hears of it as a connection error, which fails (or retries, then fails) the call.
      const refused = new Socket();
      const error = this.discarded;
      process.nextTick(() => refused.destroy(error));
      return refused;
    }
    const socket = connect({ host, port }, onConnect);
    socket.setKeepAlive(true, 60_000);
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    return socket;
  }
}

/**
 * Resolves or rejects as `work` does, or rejects with a KafkaDeadlineError after `ms`, whichever
 * comes first; `onExpired` runs then (it discards the client `work` belongs to, which is what
 * makes a pending kafkajs call settle at last). `work` is not cancelled otherwise.
 */
export async function withDeadline<T>(work: Promise<T>, ms: number, what: string, onExpired: (error: KafkaDeadlineError) => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new KafkaDeadlineError(`${what} did not finish within ${ms} ms`);
      onExpired(error);
      reject(error);
    }, ms);
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}
