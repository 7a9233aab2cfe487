import { ProblemException } from '@app/platform';
import { MAX_DEAD_LETTER_POSITION, type DeadLetter, type Transport } from '../transport';
import type { DeadLetterSource, ListedDeadLetterRow } from './dead-letters.http';

/**
 * A bus consumer's dead letters: its broker's dead-letter queue (RabbitMQ's `<queue>.dlq`, or the
 * in-memory bus's). A listing's position is how far into the queue it has read.
 */
export class QueueDeadLetters implements DeadLetterSource {
  readonly dependency = 'the broker';

  constructor(
    private readonly transport: Transport,
    readonly queue: string,
  ) {}

  async list(after: number, limit: number): Promise<ListedDeadLetterRow[]> {
    // `limit` includes the one the controller reads ahead to tell whether more follow.
    if (after < 0 || after + limit - 1 > MAX_DEAD_LETTER_POSITION) {
      throw new ProblemException(400, 'Request validation failed', `cursor: beyond the first ${MAX_DEAD_LETTER_POSITION} dead letters`, {
        errors: [{ field: 'cursor', message: `beyond the first ${MAX_DEAD_LETTER_POSITION} dead letters; replay or purge to reach further` }],
      });
    }
    const rows = await this.transport.deadLetters(this.queue, { offset: after, limit });
    return rows.map((deadLetter, i) => ({ deadLetter, position: after + i + 1 }));
  }

  async find(id: string): Promise<DeadLetter | undefined> {
    return (await this.transport.deadLetters(this.queue)).find((d) => d.id === id);
  }

  replay(id?: string): Promise<number> {
    return this.transport.replayDeadLetters(this.queue, id);
  }

  purge(id?: string): Promise<number> {
    return this.transport.purgeDeadLetters(this.queue, id);
  }
}
