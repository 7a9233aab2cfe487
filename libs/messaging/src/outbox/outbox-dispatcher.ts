import { serviceRegistry, type Logger } from '@app/platform';
import type { SqlDatabase } from '@app/persistence';
import type { OutgoingMessage, Publisher } from '../transport';
import {
  claimOutboxRows,
  deleteFullySent,
  deleteInboxBefore,
  deleteOutboxRows,
  deleteSentAmong,
  markOutboxSent,
  outboxBacklog,
  releaseOutboxClaims,
  skippedBelow,
  type OutboxChannel,
  type OutboxRow,
} from './outbox.sql';
import { endSpans, startSendSpans } from '../tracing';
import { outboxMetrics, type OutboxMetrics } from './outbox.metrics';

export interface DispatchChannel {
  name: OutboxChannel;
  publisher: Publisher;
  /**
   * Publishes in flight at once on this channel. The bus pipelines (RabbitMQ confirms each
   * message by sequence number, in order); the stream sends one request at a time (the
   * idempotent producer's order) while the next rows accumulate behind it.
   */
  pipeline: number;
  /**
   * How long rows wait for company when nothing is in flight: the stream is off the saga's
   * path, so a few milliseconds buy one request for many commits.
   */
  lingerMs?: number;
}

export interface OutboxDispatcherOptions {
  service: string;
  channels: DispatchChannel[];
  /** Rows one publish takes at most. */
  batchMax: number;
  /** Rows a channel holds in memory; beyond that (a broker that hangs) the sweeper takes over. */
  queueMax: number;
  /** How often the sweeper looks for rows that a crash or an outage left unsent. */
  sweepIntervalMs: number;
  /** A row is the sweeper's once it is this old and some channel has not sent it. */
  sweepAfterMs: number;
  /** How long a sweeper's claim keeps other instances off a row. */
  leaseMs: number;
  /** How long a row waits in memory for its last channel before the others' sends are written down. */
  partialAfterMs: number;
  /** Inbox records are kept this long: longer than any redelivery can take. */
  inboxRetentionMs: number;
  /** How long a stop waits for the publishes in flight. */
  stopTimeoutMs: number;
  /** Where the dispatcher counts what it sends; by default the service's registry. */
  metrics?: OutboxMetrics;
}

export const defaultDispatcherOptions = {
  batchMax: 500,
  queueMax: 20_000,
  sweepIntervalMs: 1000,
  sweepAfterMs: 5000,
  leaseMs: 30_000,
  partialAfterMs: 1000,
  inboxRetentionMs: 7 * 24 * 3600_000,
  stopTimeoutMs: 10_000,
};

/** What the dispatcher has done, for the benchmark (the metrics count the same, as `saga_outbox_*_total`). */
export interface DispatcherStats {
  sent: Record<OutboxChannel, number>;
  failedPublishes: Record<OutboxChannel, number>;
  swept: Record<OutboxChannel, number>;
  deleted: number;
}

interface Tracked {
  row: OutboxRow;
  waiting: Set<OutboxChannel>;
  acked: Set<OutboxChannel>;
  /** Acked channels already written down (a slow last channel). */
  marked: Set<OutboxChannel>;
  since: number;
}

/** How soon a recovering channel's sweep tries again after its claim skipped a locked row. */
const SKIPPED_ROW_RETRY_MS = 20;

/**
 * One channel's sender. Live, it publishes what the dispatcher hands it, in commit order, up to
 * `pipeline` publishes at once, without waiting for a database. A publish that fails puts it in
 * recovery: it drops what it holds (those rows stay in the outbox) and takes nothing new until
 * the sweeper has sent the channel's backlog in id order; then it is live again.
 */
class ChannelSender {
  private queue: OutboxRow[] = [];
  private inFlight = 0;
  private lingering?: NodeJS.Timeout;
  private idle: Array<() => void> = [];
  live = true;

  constructor(
    readonly channel: DispatchChannel,
    private readonly options: OutboxDispatcherOptions,
    private readonly onSent: (channel: OutboxChannel, rows: OutboxRow[]) => void,
    private readonly onDropped: (channel: OutboxChannel, rows: OutboxRow[]) => void,
    private readonly logger: Logger,
    private readonly stats: DispatcherStats,
    private readonly metrics: OutboxMetrics,
  ) {}

  /** Takes rows to send; false if it cannot now (recovering, or full): they stay in the outbox. */
  offer(rows: OutboxRow[]): boolean {
    if (!this.live) return false;
    if (this.queue.length + rows.length > this.options.queueMax) {
      this.recover(new Error(`${this.queue.length} rows waiting for ${this.channel.name}: the broker is not keeping up`));
      return false;
    }
    this.queue.push(...rows);
    const linger = this.channel.lingerMs ?? 0;
    if (linger > 0 && this.inFlight === 0) {
      this.lingering ??= setTimeout(() => {
        this.lingering = undefined;
        this.pump();
      }, linger);
    } else this.pump();
    return true;
  }

  private pump(): void {
    while (this.live && this.queue.length > 0 && this.inFlight < this.channel.pipeline) {
      const batch = this.queue.splice(0, this.options.batchMax);
      this.inFlight++;
      const started = performance.now();
      const messages = batch.map(outgoing);
      const spans = startSendSpans(this.options.service, this.channel.publisher, messages, false);
      this.channel.publisher
        .publish(messages)
        .then(
          () => {
            endSpans(spans);
            this.stats.sent[this.channel.name] += batch.length;
            this.metrics.sent[this.channel.name].inc(batch.length);
            this.onSent(this.channel.name, batch);
          },
          (error: unknown) => {
            endSpans(spans, error);
            this.stats.failedPublishes[this.channel.name]++;
            this.metrics.failedPublishes[this.channel.name].inc();
            this.onDropped(this.channel.name, batch);
            this.recover(error);
          },
        )
        .finally(() => {
          this.metrics.published(this.channel.name, batch.length, started);
          this.inFlight--;
          if (this.inFlight === 0) this.idle.splice(0).forEach((r) => r());
          this.pump();
        });
    }
  }

  /** Drops what it holds and waits for the sweeper (see `caughtUp`). */
  recover(error: unknown): void {
    if (this.live)
      this.logger.warn('outbox channel cannot publish; the sweeper sends its rows from the outbox', { channel: this.channel.name, error: String(error) });
    this.live = false;
    const dropped = this.queue.splice(0);
    if (dropped.length) this.onDropped(this.channel.name, dropped);
  }

  /** The sweeper found no more backlog for this channel: take rows from memory again. */
  caughtUp(): void {
    if (!this.live) this.logger.info('outbox channel publishing again', { channel: this.channel.name });
    this.live = true;
  }

  async drained(timeoutMs: number): Promise<void> {
    if (this.lingering) {
      clearTimeout(this.lingering);
      this.lingering = undefined;
      this.pump();
    }
    if (this.inFlight === 0) return;
    await Promise.race([new Promise<void>((r) => this.idle.push(r)), new Promise<void>((r) => setTimeout(r, timeoutMs).unref())]);
  }
}

const outgoing = (r: OutboxRow): OutgoingMessage => ({ envelope: r.envelope, routingKey: r.routingKey, body: r.body });

/**
 * Where messages leave a service (ADR 0007). A transaction that wrote to the outbox hands its
 * rows over right after its commit; every channel (the saga bus, the event stream) publishes
 * them from memory, already serialized, on its own: a broker that is slow, hangs or fails
 * holds up only its own channel. Once every channel has a row, the row is deleted, in one
 * statement for all the rows that finished meanwhile; a row one channel could not send is
 * written down as sent by the others, and left for the sweeper. No database transaction is
 * open while a broker is waited for.
 *
 * The sweeper is the recovery path: rows older than `sweepAfterMs` that some channel has not
 * sent (a crash between commit and publish, or between publish and delete; an outage) are
 * claimed under a lease (`FOR UPDATE SKIP LOCKED`, any instance), re-sent on the channels
 * that lack them, then deleted or marked. Consumers' inboxes absorb what is sent twice. One
 * instance's rows leave each channel in commit order; after an outage, the backlog is sent in
 * id order before the channel takes live rows again.
 */
export class OutboxDispatcher {
  private readonly senders: ChannelSender[];
  private readonly tracked = new Map<number, Tracked>();
  private toDelete: number[] = [];
  private toMark = new Map<OutboxChannel, number[]>();
  private writing: Promise<void> | null = null;
  private sweeper?: NodeJS.Timeout;
  private readonly sweeping = new Set<OutboxChannel>();
  /** Sweeps in progress: a stop waits for them, so none publishes after the service closed. */
  private readonly inProgress = new Set<Promise<void>>();
  private passes = 0;
  private stopped = true;
  readonly stats: DispatcherStats;
  private readonly metrics: OutboxMetrics;
  private unwatch?: () => void;

  constructor(
    private readonly db: SqlDatabase,
    private readonly logger: Logger,
    private readonly options: OutboxDispatcherOptions,
  ) {
    const zero = () => ({ bus: 0, stream: 0 });
    this.stats = { sent: zero(), failedPublishes: zero(), swept: zero(), deleted: 0 };
    this.metrics = options.metrics ?? outboxMetrics(serviceRegistry(options.service));
    this.senders = options.channels.map(
      (c) =>
        new ChannelSender(
          c,
          options,
          (ch, rows) => this.settle(ch, rows, true),
          (ch, rows) => this.settle(ch, rows, false),
          logger,
          this.stats,
          this.metrics,
        ),
    );
  }

  get channels(): OutboxChannel[] {
    return this.options.channels.map((c) => c.name);
  }

  /** Rows in memory, not yet sent on every channel (for metrics). */
  get inFlight(): number {
    return this.tracked.size;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.sweeper = setInterval(() => this.sweepAll(), this.options.sweepIntervalMs);
    this.sweeper.unref();
    this.unwatch = this.metrics.watch(() =>
      outboxBacklog(this.db, this.channels).catch((error: unknown) => {
        this.logger.warn('outbox backlog not readable for the metrics', { error: String(error) });
        return undefined;
      }),
    );
    // Whatever an earlier run left: sent right away rather than after the first interval, and
    // rows it wrote down everywhere but died before deleting go now, not at the first cleanup.
    for (const sender of this.senders) this.track(this.sweep(sender));
    this.track(this.cleanUp().catch((error) => this.logger.warn('outbox cleanup failed', { error: String(error) })));
  }

  /** The rows a transaction just committed: published now, on every channel. */
  dispatch(rows: OutboxRow[]): void {
    if (rows.length === 0 || this.stopped) return;
    const now = Date.now();
    for (const row of rows) this.tracked.set(row.id, { row, waiting: new Set(this.channels), acked: new Set(), marked: new Set(), since: now });
    for (const sender of this.senders) {
      if (!sender.offer(rows)) this.settle(sender.channel.name, rows, false);
    }
  }

  /** Waits for the publishes in flight, then writes down what they achieved. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.sweeper);
    this.unwatch?.();
    const timeout = new Promise<void>((r) => setTimeout(r, this.options.stopTimeoutMs).unref());
    await Promise.race([Promise.all([...this.inProgress]), timeout]);
    await Promise.all(this.senders.map((s) => s.drained(this.options.stopTimeoutMs)));
    await this.write().catch((error) => this.logger.warn('outbox bookkeeping at shutdown failed; the sweeper re-sends those rows', { error: String(error) }));
  }

  private settle(channel: OutboxChannel, rows: OutboxRow[], sent: boolean): void {
    for (const row of rows) {
      const t = this.tracked.get(row.id);
      if (!t || !t.waiting.delete(channel)) continue;
      if (sent) t.acked.add(channel);
      if (t.waiting.size > 0) continue;
      this.tracked.delete(row.id);
      if (t.acked.size === this.senders.length) this.toDelete.push(row.id);
      else for (const c of t.acked) if (!t.marked.has(c)) this.mark(c, row.id);
    }
    this.scheduleWrite();
  }

  private mark(channel: OutboxChannel, id: number): void {
    let list = this.toMark.get(channel);
    if (!list) this.toMark.set(channel, (list = []));
    list.push(id);
  }

  /** One bookkeeping write at a time; what finishes meanwhile goes into the next. */
  private scheduleWrite(): void {
    if (this.writing || (this.toDelete.length === 0 && this.toMark.size === 0)) return;
    this.writing = this.write()
      .catch((error) => this.logger.warn('outbox bookkeeping failed; the sweeper re-sends those rows', { error: String(error) }))
      .finally(() => {
        this.writing = null;
        this.scheduleWrite();
      });
  }

  private async write(): Promise<void> {
    const deletes = this.toDelete.splice(0);
    const marks = [...this.toMark];
    this.toMark.clear();
    if (deletes.length) {
      await deleteOutboxRows(this.db, deletes);
      this.stats.deleted += deletes.length;
      this.metrics.deleted.inc(deletes.length);
    }
    for (const [channel, ids] of marks) await markOutboxSent(this.db, channel, ids);
    // A row can be written down by each channel's sweep in turn, each having claimed it while
    // the other had not yet sent it (or by two instances): once all are, it goes now, not at
    // the next cleanup, a minute on.
    if (marks.length) {
      const done = await deleteSentAmong(this.db, this.channels, [...new Set(marks.flatMap(([, ids]) => ids))]);
      this.stats.deleted += done;
      this.metrics.deleted.inc(done);
    }
  }

  private markSlow(): void {
    // A row one channel sent long ago while another is still at it (a slow broker): write the
    // first down, so that a crash now does not send it there a second time.
    const limit = Date.now() - this.options.partialAfterMs;
    for (const t of this.tracked.values()) {
      if (t.since > limit) continue;
      for (const c of t.acked) {
        if (t.marked.has(c)) continue;
        t.marked.add(c);
        this.mark(c, t.row.id);
      }
    }
    this.scheduleWrite();
  }

  /**
   * Re-sends what no live publish will, one sweep per channel so that a broker that hangs
   * holds up only its own: rows past `sweepAfterMs`, and for a channel in recovery its whole
   * backlog, oldest first (one batch per pass).
   */
  private sweepAll(): void {
    this.markSlow();
    for (const sender of this.senders) this.track(this.sweep(sender));
    if (++this.passes % 60 === 0) void this.cleanUp().catch((error) => this.logger.warn('outbox cleanup failed', { error: String(error) }));
  }

  private track(sweep: Promise<void>): void {
    this.inProgress.add(sweep);
    void sweep.finally(() => this.inProgress.delete(sweep));
  }

  private async sweep(sender: ChannelSender, olderThanMs = this.options.sweepAfterMs): Promise<void> {
    const name = sender.channel.name;
    if (this.sweeping.has(name) || this.stopped) return;
    this.sweeping.add(name);
    try {
      const recovering = !sender.live;
      const others = this.channels.filter((c) => c !== name);
      // One statement, so no transaction stays open while the broker is asked: a lease.
      const ageMs = recovering ? 0 : olderThanMs;
      const claimed = await claimOutboxRows(this.db, name, others, this.options.batchMax, ageMs, this.options.leaseMs);
      // SKIP LOCKED keeps two sweeps off each other's rows, but it also skips a row another
      // statement has locked for a moment (the other channel's claim of the same rows): the
      // rows after it would overtake it. Send only what comes before such a row; the rest waits.
      const skipped = claimed.length > 0 ? await skippedBelow(this.db, name, claimed[claimed.length - 1].id, ageMs) : null;
      // Rows still in this process's hands are finished by their live publish; let them go.
      const mine = claimed.filter((r) => this.tracked.has(r.id) || this.stopped || (skipped !== null && r.id > skipped));
      const rows = claimed.filter((r) => !mine.includes(r));
      await releaseOutboxClaims(
        this.db,
        name,
        mine.map((r) => r.id),
      );
      if (rows.length > 0) {
        const started = performance.now();
        const messages = rows.map(outgoing);
        const spans = startSendSpans(this.options.service, sender.channel.publisher, messages, true);
        try {
          await sender.channel.publisher.publish(messages);
          endSpans(spans);
        } catch (error) {
          endSpans(spans, error);
          this.stats.failedPublishes[name]++;
          this.metrics.failedPublishes[name].inc();
          sender.recover(error);
          // Not sent: free them for the next pass (of any instance) rather than wait out the lease.
          await releaseOutboxClaims(
            this.db,
            name,
            rows.map((r) => r.id),
          );
          return;
        } finally {
          this.metrics.published(name, rows.length, started);
        }
        this.stats.swept[name] += rows.length;
        this.metrics.swept[name].inc(rows.length);
        // Sent here and everywhere else: deleted; still missing elsewhere: this channel written down.
        for (const r of rows) {
          if (r.pendingElsewhere.length === 0) this.toDelete.push(r.id);
          else this.mark(name, r.id);
        }
        this.scheduleWrite();
      }
      if (recovering && claimed.length < this.options.batchMax && skipped === null) {
        // The backlog is sent: live again, and one more pass for what committed meanwhile.
        sender.caughtUp();
        this.sweeping.delete(name);
        await this.sweep(sender, 0);
      } else if (recovering && !this.stopped) {
        // More backlog: the next batch at once, not at the next interval, or a backlog that
        // grows faster than batchMax a second would never drain. After a skipped row, a moment
        // first for the statement that holds it.
        this.sweeping.delete(name);
        if (skipped === null) setImmediate(() => this.track(this.sweep(sender)));
        else setTimeout(() => this.track(this.sweep(sender)), SKIPPED_ROW_RETRY_MS).unref();
      }
    } catch (error) {
      this.logger.warn('outbox sweep failed; will try again', { channel: name, error: String(error) });
    } finally {
      this.sweeping.delete(name);
    }
  }

  private async cleanUp(): Promise<void> {
    await deleteInboxBefore(this.db, new Date(Date.now() - this.options.inboxRetentionMs));
    await deleteFullySent(this.db, this.channels);
  }
}
