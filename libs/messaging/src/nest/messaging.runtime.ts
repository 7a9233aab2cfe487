import type { Logger } from '@app/platform';
import type { MessageConsumer } from '../consumer';
import type { OutboxDispatcher } from '../outbox/outbox-dispatcher';

/**
 * Starts a service's outbox dispatcher and consumers with the application, and stops them in
 * the order that loses nothing: consumers stop taking messages and finish in-flight handlers
 * (which ack), then the dispatcher finishes the publishes those handlers started.
 */
export class MessagingRuntime {
  constructor(
    private readonly dispatcher: OutboxDispatcher,
    private readonly consumers: MessageConsumer[],
    private readonly logger: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.dispatcher.start();
    for (const c of this.consumers) await c.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    for (const c of this.consumers) await c.stop();
    await this.dispatcher.stop();
    this.logger.info('messaging stopped');
  }
}

export const MESSAGING_RUNTIME = Symbol('MESSAGING_RUNTIME');
