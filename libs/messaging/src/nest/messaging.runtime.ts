import type { Logger } from '@app/platform';
import type { MessageConsumer } from '../consumer';
import type { OutboxRelay } from '../outbox/outbox-relay';

/**
 * Starts a service's consumers and outbox relay with the application, and stops them in the
 * order that loses nothing: consumers stop taking messages and finish in-flight handlers
 * (which ack), then the relay flushes what those handlers committed.
 */
export class MessagingRuntime {
  constructor(
    private readonly relays: OutboxRelay[],
    private readonly consumers: MessageConsumer[],
    private readonly logger: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    for (const r of this.relays) r.start();
    for (const c of this.consumers) await c.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    for (const c of this.consumers) await c.stop();
    for (const r of this.relays) await r.stop();
    this.logger.info('messaging stopped');
  }
}

export const MESSAGING_RUNTIME = Symbol('MESSAGING_RUNTIME');
