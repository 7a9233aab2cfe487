import type { Envelope } from '@app/contracts';
import type { DataSource, EntityManager } from 'typeorm';
import { appendToOutbox, recordManyInInbox } from './outbox/outbox.store';

/** What a handler or a command gets inside its transaction. */
export interface Tx {
  readonly manager: EntityManager;
  /** Adds messages to the outbox; they are published only if the transaction commits. */
  send(...messages: Envelope[]): Promise<void>;
}

export interface RelaySignal {
  wake(): void;
}

export interface UnitOfWorkOptions {
  /**
   * How many handled messages may share one transaction (1 = a transaction each). Messages that
   * arrive while a transaction is committing wait for the next one, which takes all of them up
   * to this many: at a trickle each message still commits alone and at once; under load the
   * commits, inbox inserts and outbox inserts are shared.
   */
  maxBatch: number;
}

type Outcome = 'handled' | 'duplicate';

interface Handled {
  consumer: string;
  message: Envelope;
  work: (tx: Tx) => Promise<void>;
}

interface Pending extends Handled {
  resolve(outcome: Outcome): void;
  reject(error: unknown): void;
}

/**
 * The transaction seam, which also reaches the outbox and the inbox. `handle` is the one
 * shape of every message handler: inbox (a duplicate ends here), load, decide, save, outbox,
 * all in one commit; the consumer acks only after it returns.
 *
 * Handled messages are batched (see UnitOfWorkOptions): one transaction records every message
 * of the batch in the inbox, runs their work one after the other, writes their outgoing
 * messages, and commits once; each message's promise settles after that commit. If any of them
 * fails (or the commit does), nothing of the batch is kept and each message runs again in a
 * transaction of its own, so one bad message fails alone and the others are not held back.
 */
export class UnitOfWork {
  private readonly queue: Pending[] = [];
  private committing = false;
  private readonly maxBatch: number;

  constructor(
    private readonly dataSource: DataSource,
    private readonly relay: RelaySignal,
    options: UnitOfWorkOptions = { maxBatch: 1 },
  ) {
    this.maxBatch = Math.max(1, Math.floor(options.maxBatch));
  }

  async run<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    const outgoing: Envelope[] = [];
    const result = await this.dataSource.transaction(async (manager) => {
      const tx: Tx = {
        manager,
        send: async (...messages) => void outgoing.push(...messages),
      };
      const value = await work(tx);
      // One multi-row insert for everything the work sent, still inside its transaction.
      await appendToOutbox(manager, outgoing);
      return value;
    });
    // Committed: publish now rather than at the next sweep.
    if (outgoing.length > 0) this.relay.wake();
    return result;
  }

  handle(consumer: string, message: Envelope, work: (tx: Tx) => Promise<void>): Promise<Outcome> {
    // Unbatched: every message its own transaction, concurrently.
    if (this.maxBatch === 1) return this.runBatch([{ consumer, message, work }]).then(([outcome]) => outcome);
    return new Promise<Outcome>((resolve, reject) => {
      this.queue.push({ consumer, message, work, resolve, reject });
      this.next();
    });
  }

  /** Starts the next batch unless one is committing (it starts the next when it is done). */
  private next(): void {
    if (this.committing || this.queue.length === 0) return;
    this.committing = true;
    const batch = this.queue.splice(0, this.maxBatch);
    void this.commitBatch(batch).finally(() => {
      this.committing = false;
      this.next();
    });
  }

  private async commitBatch(batch: Pending[]): Promise<void> {
    let outcomes: Outcome[];
    try {
      outcomes = await this.runBatch(batch);
    } catch (error) {
      if (batch.length === 1) {
        batch[0].reject(error);
        return;
      }
      // Nothing of the batch was kept: each one alone, so that only the failing one fails.
      for (const item of batch) {
        await this.runBatch([item]).then(
          ([outcome]) => item.resolve(outcome),
          (e: unknown) => item.reject(e),
        );
      }
      return;
    }
    batch.forEach((item, i) => item.resolve(outcomes[i]));
  }

  private runBatch(batch: Handled[]): Promise<Outcome[]> {
    return this.run(async (tx) => {
      const fresh = await recordManyInInbox(
        tx.manager,
        batch.map((b) => ({ consumer: b.consumer, messageId: b.message.messageId, messageType: b.message.type })),
      );
      const outcomes: Outcome[] = [];
      for (const [i, item] of batch.entries()) {
        // A duplicate (already handled, or twice in this batch) has no second effect.
        if (!fresh[i]) {
          outcomes.push('duplicate');
          continue;
        }
        await item.work(tx);
        outcomes.push('handled');
      }
      return outcomes;
    });
  }
}

export const UNIT_OF_WORK = Symbol('UNIT_OF_WORK');
