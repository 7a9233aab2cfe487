import type { Envelope } from '@app/contracts';
import type { DataSource, EntityManager } from 'typeorm';
import { appendToOutbox, recordInInbox } from './outbox/outbox.store';

/** What a handler or a command gets inside its transaction. */
export interface Tx {
  readonly manager: EntityManager;
  /** Adds messages to the outbox; they are published only if the transaction commits. */
  send(...messages: Envelope[]): Promise<void>;
}

export interface RelaySignal {
  wake(): void;
}

/**
 * The transaction seam, which also reaches the outbox and the inbox. `handle` is the one
 * shape of every message handler: inbox (a duplicate ends here), load, decide, save, outbox,
 * all in one commit; the consumer acks only after it returns.
 */
export class UnitOfWork {
  constructor(
    private readonly dataSource: DataSource,
    private readonly relay: RelaySignal,
  ) {}

  async run<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    let sent = 0;
    const result = await this.dataSource.transaction(async (manager) => {
      const tx: Tx = {
        manager,
        send: async (...messages) => {
          await appendToOutbox(manager, messages);
          sent += messages.length;
        },
      };
      return work(tx);
    });
    // Committed: publish now rather than at the next sweep.
    if (sent > 0) this.relay.wake();
    return result;
  }

  async handle(consumer: string, message: Envelope, work: (tx: Tx) => Promise<void>): Promise<'handled' | 'duplicate'> {
    return this.run(async (tx) => {
      if (!(await recordInInbox(tx.manager, consumer, message.messageId, message.type))) return 'duplicate';
      await work(tx);
      return 'handled';
    });
  }
}

export const UNIT_OF_WORK = Symbol('UNIT_OF_WORK');
