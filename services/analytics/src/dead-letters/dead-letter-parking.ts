import type { EventStream, StreamBatch, StreamConsumerHandle, StreamRecord } from '@app/messaging';
import { backoffMs, type Logger } from '@app/platform';

export interface DeadLetterParkingOptions {
  /** A consumer group of its own (`<archive group>.dead-letters`): the archive's offsets are not touched. */
  groupId: string;
  topic: string;
}

/**
 * Reads Analytics' dead-letter topic and parks every record in its database (ParkedDeadLetters),
 * committing a record's offset only once its row is committed: a crash in between reads it
 * again, and parking is insert-if-absent.
 *
 * It starts in the background and is never awaited by the service's start: a group join can
 * wait for a member that died without leaving (up to the session timeout), and a service that
 * delayed listening on its HTTP port for that was killed by the chaos soak's
 * kill-after-upload fault before it ever listened. Failures to start are logged and retried
 * until it is stopped.
 */
export class DeadLetterParking {
  private handle?: StreamConsumerHandle;
  private stopping = false;
  private running?: Promise<void>;
  private wake?: () => void;

  constructor(
    private readonly stream: Pick<EventStream, 'consume'>,
    private readonly parked: { park(records: readonly StreamRecord[]): Promise<void> },
    private readonly logger: Logger,
    private readonly options: DeadLetterParkingOptions,
  ) {}

  /** Returns at once; the consumer joins its group in the background. */
  start(): void {
    this.running ??= this.run();
  }

  /** Resolves once the consumer has joined (tests; the service never waits for it). */
  async started(): Promise<boolean> {
    await this.running;
    return this.handle !== undefined;
  }

  private async run(): Promise<void> {
    for (let attempt = 0; !this.stopping; attempt++) {
      try {
        const handle = await this.stream.consume({
          groupId: this.options.groupId,
          topics: [this.options.topic],
          onBatch: (batch, consumer) => this.onBatch(batch, consumer),
        });
        // Stopped while joining: leave at once.
        if (this.stopping) return void (await handle.stop());
        this.handle = handle;
        this.logger.info('parking the dead-letter topic in the database', { topic: this.options.topic, groupId: this.options.groupId });
        return;
      } catch (error) {
        if (this.stopping) return;
        const retryInMs = backoffMs(attempt, { baseMs: 1000, maxMs: 30_000 });
        this.logger.warn('cannot read the dead-letter topic yet; will retry', { topic: this.options.topic, error: String(error), retryInMs });
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, retryInMs);
          this.wake = () => (clearTimeout(timer), resolve());
        });
      }
    }
  }

  private async onBatch(batch: StreamBatch, consumer: StreamConsumerHandle): Promise<void> {
    if (this.stopping) throw new Error('stopping: the records stay uncommitted');
    if (batch.records.length === 0) return;
    try {
      await this.parked.park(batch.records);
    } catch (error) {
      // Thrown on: the batch is delivered again, and nothing past it is committed meanwhile.
      this.logger.warn('parking dead letters failed; they will be read again', { topic: batch.topic, error: String(error) });
      throw error;
    }
    await consumer.commit([{ topic: batch.topic, partition: batch.partition, offset: batch.records[batch.records.length - 1].offset + 1 }]);
  }

  /**
   * Leaves the group. A consumer still joining is not waited for (that can take the session
   * timeout): it leaves as soon as its join completes, and the stream's close stops it anyway.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.handle?.stop();
  }
}
