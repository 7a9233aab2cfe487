import type { Logger } from '@app/platform';
import type { DataSource } from 'typeorm';
import type { Publisher } from '../transport';
import { claimOutboxBatch, deleteInboxBefore, deletePublishedBefore, markPublished, type OutboxChannel } from './outbox.store';

export interface OutboxRelayOptions {
  service: string;
  /** Which delivery this relay does: the saga bus (default) or the event stream. */
  channel?: OutboxChannel;
  /**
   * The channels a row must have gone out on before cleanup may delete it; only the relay that
   * runs cleanup (the bus relay) needs it. Empty = this relay does no cleanup.
   */
  cleanupChannels?: OutboxChannel[];
  batchSize: number;
  /** The sweeper: how often to look for rows a crash or a broker outage left behind. */
  sweepIntervalMs: number;
  /** Published rows are kept this long for inspection, then deleted. */
  retentionMs: number;
  /** Inbox records are kept this long: longer than any redelivery can take. */
  inboxRetentionMs?: number;
}

export const defaultRelayOptions = { batchSize: 200, sweepIntervalMs: 1000, retentionMs: 60 * 60 * 1000 };

/**
 * Where messages leave a service. Woken right after a commit that wrote to the outbox (no
 * poll delay on the happy path) and by a sweeper; publishes batches in commit order, and marks
 * a row published only after the broker confirmed it. A crash before the mark re-sends the
 * row (at-least-once); consumers' inboxes absorb the duplicate.
 */
export class OutboxRelay {
  private running = false;
  private again = false;
  private stopped = true;
  private sweeper?: NodeJS.Timeout;
  private retry?: NodeJS.Timeout;
  private idleWaiters: Array<() => void> = [];
  private failures = 0;
  private sweeps = 0;
  private readonly lockName: string;
  private readonly channel: OutboxChannel;

  constructor(
    private readonly dataSource: DataSource,
    private readonly publisher: Publisher,
    private readonly logger: Logger,
    private readonly options: OutboxRelayOptions,
  ) {
    this.channel = options.channel ?? 'bus';
    this.lockName = `${options.service}${this.channel === 'bus' ? '' : `:${this.channel}`}`;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.sweeper = setInterval(() => this.sweep(), this.options.sweepIntervalMs);
    this.sweeper.unref();
    this.wake();
  }

  /** Ask for a drain; coalesces with one already running. */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    void this.drainLoop();
  }

  /** Stop the sweeper, finish the drain in progress and flush what is committed. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    clearInterval(this.sweeper);
    clearTimeout(this.retry);
    if (this.running) await new Promise<void>((r) => this.idleWaiters.push(r));
    try {
      while ((await this.publishBatch()) === this.options.batchSize);
    } catch (error) {
      this.logger.warn('outbox flush at shutdown failed; the rows stay for the next start', { error: String(error) });
    }
    this.stopped = true;
  }

  private wakeSoon(): void {
    if (this.stopped || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.wake();
    }, 25);
    this.retry.unref();
  }

  private sweep(): void {
    this.wake();
    const cleanup = this.options.cleanupChannels ?? (this.channel === 'bus' ? ['bus'] : []);
    if (++this.sweeps % 60 === 0 && cleanup.length > 0) {
      void this.dataSource
        .transaction(async (m) => {
          await deletePublishedBefore(m, new Date(Date.now() - this.options.retentionMs), cleanup);
          await deleteInboxBefore(m, new Date(Date.now() - (this.options.inboxRetentionMs ?? 7 * 24 * 3600_000)));
        })
        .catch((error) => this.logger.warn('outbox cleanup failed', { error: String(error) }));
    }
  }

  private async drainLoop(): Promise<void> {
    this.running = true;
    try {
      do {
        this.again = false;
        while (!this.stopped && (await this.publishBatch()) === this.options.batchSize);
      } while (this.again && !this.stopped);
      this.failures = 0;
    } catch (error) {
      this.failures++;
      const delay = Math.min(30_000, 200 * 2 ** Math.min(this.failures, 8));
      this.logger.warn('outbox relay could not publish; will retry', { channel: this.channel, error: String(error), retryInMs: delay });
      clearTimeout(this.retry);
      this.retry = setTimeout(() => {
        this.retry = undefined;
        this.wake();
      }, delay);
      this.retry.unref();
    } finally {
      this.running = false;
      this.idleWaiters.splice(0).forEach((r) => r());
    }
  }

  private publishBatch(): Promise<number> {
    return this.dataSource.transaction(async (manager) => {
      const rows = await claimOutboxBatch(manager, this.lockName, this.options.batchSize, this.channel);
      if (rows === 'locked') {
        // Another instance is draining; what we just committed may have missed its last claim.
        this.wakeSoon();
        return 0;
      }
      if (rows.length === 0) return 0;
      await this.publisher.publish(rows.map((r) => r.message));
      await markPublished(
        manager,
        rows.map((r) => r.id),
        this.channel,
      );
      return rows.length;
    });
  }
}
