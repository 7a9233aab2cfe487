import type { Envelope } from '@app/contracts';
import { MessageFailed, type Outcome, type UnitOfWork } from './unit-of-work';
import type { BatchHandler } from './handler';

export interface BatcherOptions {
  /** Messages one transaction takes at most (1: a transaction each). */
  maxBatch: number;
  /** Transactions of this consumer at once (each on its own connection). */
  concurrency: number;
}

interface Waiting {
  message: Envelope;
  resolve(outcome: Outcome): void;
  reject(error: unknown): void;
}

/**
 * Gathers a consumer's deliveries into batches for its handler (group commit): a message that
 * arrives while fewer than `concurrency` transactions run starts one at once, alone; messages
 * that arrive while they run wait, and the next transaction takes all of them (up to
 * `maxBatch`). At a trickle every message commits alone and at once; under load the inbox
 * insert, the loads, the writes and the commit are shared.
 *
 * A message being retried (it failed before) runs in a transaction of its own: a message that
 * keeps failing must not take a batch's throughput down with it on every attempt.
 */
export class MessageBatcher {
  private readonly queue: Waiting[] = [];
  private running = 0;

  constructor(
    private readonly uow: UnitOfWork,
    private readonly consumer: string,
    private readonly handler: BatchHandler,
    private readonly options: BatcherOptions,
  ) {}

  /** Resolves once the message's transaction has committed; rejects with its error if it failed. */
  submit(message: Envelope, options: { alone?: boolean } = {}): Promise<Outcome> {
    if (options.alone || this.options.maxBatch === 1) return this.run([message]).then(([r]) => settle(r));
    return new Promise<Outcome>((resolve, reject) => {
      this.queue.push({ message, resolve, reject });
      this.next();
    });
  }

  private next(): void {
    while (this.running < this.options.concurrency && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      this.running++;
      void this.run(batch.map((w) => w.message))
        .then(
          (results) => batch.forEach((w, i) => (results[i] instanceof MessageFailed ? w.reject(results[i].error) : w.resolve(results[i] as Outcome))),
          (error: unknown) => batch.forEach((w) => w.reject(error)),
        )
        .finally(() => {
          this.running--;
          this.next();
        });
    }
  }

  private run(messages: Envelope[]) {
    return this.uow.handleBatch(this.consumer, messages, (tx, fresh) => this.handler.handle(tx, fresh as never));
  }
}

function settle(r: Outcome | MessageFailed): Outcome {
  if (r instanceof MessageFailed) throw r.error;
  return r;
}
