import { gzipSync } from 'node:zlib';
import type { Envelope } from '@app/contracts';
import type { EventStream, StreamBatch, StreamConsumerHandle, StreamRecord } from '@app/messaging';
import type { Logger } from '@app/platform';
import { parseRecord, type ParsedRecord } from './archive-record';
import type { ArchiveStore } from './archive-store';
import { blobName, blobPrefix, parseBlobName } from './blob-name';
import { sleep } from '@app/platform';

export interface ArchiverOptions {
  groupId: string;
  /** The domain event topics to archive and project. */
  eventTopics: string[];
  retryTopic: string;
  deadLetterTopic: string;
  /** Flush a partition's batch at this many records... */
  batchMaxEvents: number;
  /** ...or when its oldest record has waited this long. */
  batchMaxMs: number;
  /** A poison record is looked at again this long after it went to the retry topic. */
  retryDelayMs: number;
  /**
   * Test-only fault injection: SIGKILL this process right after a blob is uploaded and before
   * its offsets are committed, the window the exactly-once archive must survive.
   */
  killAfterUpload?: boolean;
}

interface Item {
  record: StreamRecord;
  parsed: ParsedRecord;
  /** Folded into the summary (committed); every item is, before its blob is uploaded. */
  projected: boolean;
}

interface PartitionState {
  topic: string;
  partition: number;
  items: Item[];
  openedAt: number;
  /** Highest offset known to be in the archive (by this run or an earlier one). */
  archivedThrough: number;
  /** Highest offset skipped because it was already archived or buffered. */
  skippedThrough: number;
  /** The next offset this run has committed (or -1 before the first commit). */
  committed: number;
  chain: Promise<unknown>;
}

/**
 * Where events enter Analytics. For every record, in partition order: a poison record goes to
 * the retry topic (then the dead-letter topic); a good one is projected into the summary
 * (inbox-deduplicated) and buffered. A partition's buffer becomes one gzip NDJSON blob, named
 * from its offset range; the offsets are committed only after the blob is stored. After a
 * crash the same offsets are read again, the blob an earlier run already stored for them is
 * found by its name, and nothing is written twice: the archive holds each event exactly once.
 */
export class Archiver {
  private handle?: StreamConsumerHandle;
  private readonly partitions = new Map<string, PartitionState>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly stream: EventStream,
    /** null: project only, keep no archive (ANALYTICS_ARCHIVE=false). */
    private readonly store: ArchiveStore | null,
    /** Folds a batch of events into the summary, in one transaction; resolves once committed. */
    private readonly project: (events: Envelope[]) => Promise<void>,
    private readonly logger: Logger,
    private readonly options: ArchiverOptions,
  ) {}

  get topics(): string[] {
    return [...this.options.eventTopics, this.options.retryTopic];
  }

  async start(): Promise<void> {
    this.handle = await this.stream.consume({
      groupId: this.options.groupId,
      topics: this.topics,
      onBatch: (batch) => this.onBatch(batch),
      onRevoked: async (revoked) => {
        // Another member owns these now; it re-reads from the committed offsets.
        for (const tp of revoked) this.partitions.delete(key(tp.topic, tp.partition));
      },
    });
    this.timer = setInterval(() => void this.flushDue(), Math.max(50, Math.min(500, Math.floor(this.options.batchMaxMs / 2))));
    this.timer.unref();
  }

  /** Flushes every buffer (so a clean stop re-reads nothing), then leaves the group. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    for (const state of this.partitions.values()) {
      await this.serial(state, () => this.flush(state)).catch((error) =>
        this.logger.warn('flush at stop failed; the offsets stay uncommitted', { error: String(error) }),
      );
    }
    await this.handle?.stop();
  }

  private state(topic: string, partition: number): PartitionState {
    const k = key(topic, partition);
    let s = this.partitions.get(k);
    if (!s) {
      s = { topic, partition, items: [], openedAt: 0, archivedThrough: -1, skippedThrough: -1, committed: -1, chain: Promise.resolve() };
      this.partitions.set(k, s);
    }
    return s;
  }

  private serial<T>(s: PartitionState, fn: () => Promise<T>): Promise<T> {
    const next = s.chain.then(fn, fn);
    s.chain = next.catch(() => undefined);
    return next;
  }

  private onBatch(batch: StreamBatch): Promise<void> {
    const s = this.state(batch.topic, batch.partition);
    return this.serial(s, async () => {
      for (const record of batch.records) {
        const lastBuffered = s.items.length ? s.items[s.items.length - 1].record.offset : -1;
        if (record.offset <= Math.max(lastBuffered, s.archivedThrough)) {
          if (record.offset > s.skippedThrough) s.skippedThrough = record.offset;
          continue;
        }
        if (s.items.length === 0) {
          // A new blob would start here: did an earlier run already store one from this offset?
          const done = await this.archivedFrom(record);
          if (done >= record.offset) {
            s.archivedThrough = done;
            s.skippedThrough = record.offset;
            this.logger.info('skipping events an earlier run already archived', {
              topic: record.topic,
              partition: record.partition,
              from: record.offset,
              through: done,
            });
            continue;
          }
        }
        const parsed = await this.route(record);
        if (s.items.length === 0) s.openedAt = Date.now();
        s.items.push({ record, parsed, projected: parsed.kind !== 'event' });
        if (s.items.length >= this.options.batchMaxEvents) await this.flush(s);
      }
      // The slice's events, in one transaction (not one per event).
      await this.projectPending(s);
      // Everything read so far is archived: move the committed offset past what was skipped.
      if (s.items.length === 0) await this.commit(s, Math.min(s.skippedThrough, s.archivedThrough) + 1);
    });
  }

  /** Folds the buffered events not yet in the summary into it (at least once; the inbox counts each once). */
  private async projectPending(s: PartitionState): Promise<void> {
    const pending = s.items.filter((i) => !i.projected);
    if (pending.length === 0) return;
    await this.project(pending.flatMap((i) => (i.parsed.kind === 'event' ? [i.parsed.envelope] : [])));
    for (const i of pending) i.projected = true;
  }

  /** Reads a record: a good one is kept for the summary and the blob; a poison one is routed onwards. */
  private async route(record: StreamRecord): Promise<ParsedRecord> {
    if (record.topic === this.options.retryTopic) {
      const retryAt = Number(record.headers['x-retry-at']) || 0;
      const wait = retryAt - Date.now();
      if (wait > 0) await sleep(Math.min(wait, this.options.retryDelayMs));
    }
    const parsed = parseRecord(record.value);
    if (parsed.kind === 'event') return parsed;
    const origin =
      record.topic === this.options.retryTopic
        ? { topic: record.headers['x-original-topic'], partition: record.headers['x-original-partition'], offset: record.headers['x-original-offset'] }
        : { topic: record.topic, partition: String(record.partition), offset: String(record.offset) };
    const headers: Record<string, string> = {
      'x-error': parsed.error.slice(0, 1000),
      'x-original-topic': String(origin.topic),
      'x-original-partition': String(origin.partition),
      'x-original-offset': String(origin.offset),
      'x-failed-at': new Date().toISOString(),
    };
    if (record.topic === this.options.retryTopic) {
      await this.stream.produce(this.options.deadLetterTopic, [{ key: record.key, value: record.value, headers }]);
      this.logger.error('poison event dead-lettered', { ...headers });
    } else {
      await this.stream.produce(this.options.retryTopic, [
        { key: record.key, value: record.value, headers: { ...headers, 'x-retry-at': String(Date.now() + this.options.retryDelayMs) } },
      ]);
      this.logger.warn('poison event sent to the retry topic', { ...headers });
    }
    return parsed;
  }

  /** Commits forward only. */
  private async commit(s: PartitionState, next: number): Promise<void> {
    if (next <= 0 || next <= s.committed) return;
    await this.handle!.commit([{ topic: s.topic, partition: s.partition, offset: next }]);
    s.committed = next;
  }

  /** The highest offset stored by blobs that start at this record's offset, or -1. */
  private async archivedFrom(record: StreamRecord): Promise<number> {
    if (!this.store) return -1;
    const blobs = await this.store.list(blobPrefix(record.topic, record.partition, record.offset, record.timestamp));
    return blobs.reduce((max, b) => Math.max(max, parseBlobName(b.name)?.lastOffset ?? -1), -1);
  }

  private async flushDue(): Promise<void> {
    const now = Date.now();
    for (const s of this.partitions.values()) {
      if (s.items.length > 0 && now - s.openedAt >= this.options.batchMaxMs) {
        await this.serial(s, () => this.flush(s)).catch((error) =>
          this.logger.warn('archive flush failed; will retry', { topic: s.topic, partition: s.partition, error: String(error) }),
        );
      }
    }
  }

  private async flush(s: PartitionState): Promise<void> {
    if (s.items.length === 0) return;
    // A blob holds only events the summary has: projected first, uploaded second, committed last.
    await this.projectPending(s);
    const items = s.items;
    const first = items[0].record;
    const last = items[items.length - 1].record;
    const lines: string[] = [];
    const skipped: number[] = [];
    let minTs = Number.MAX_SAFE_INTEGER;
    let maxTs = 0;
    for (const { record, parsed } of items) {
      if (parsed.kind !== 'event') {
        skipped.push(record.offset);
        continue;
      }
      minTs = Math.min(minTs, record.timestamp);
      maxTs = Math.max(maxTs, record.timestamp);
      lines.push(
        JSON.stringify({
          topic: record.topic,
          partition: record.partition,
          offset: record.offset,
          timestamp: new Date(record.timestamp).toISOString(),
          event: parsed.envelope,
        }),
      );
    }
    const name = blobName(s.topic, s.partition, first.offset, last.offset, first.timestamp);
    const body = gzipSync(Buffer.from(lines.length ? `${lines.join('\n')}\n` : ''));
    await this.store?.put(name, body, {
      topic: s.topic,
      partition: String(s.partition),
      firstoffset: String(first.offset),
      lastoffset: String(last.offset),
      eventcount: String(lines.length),
      skippedoffsets: skipped.join(','),
      mintimestamp: lines.length ? new Date(minTs).toISOString() : '',
      maxtimestamp: lines.length ? new Date(maxTs).toISOString() : '',
    });
    if (this.options.killAfterUpload) {
      this.logger.warn('fault injection: killing the process between upload and commit', { blob: name });
      process.kill(process.pid, 'SIGKILL');
    }
    await this.commit(s, last.offset + 1);
    s.items = [];
    s.archivedThrough = last.offset;
    this.logger.debug('archived', { blob: name, events: lines.length, skipped: skipped.length });
  }
}

const key = (topic: string, partition: number) => `${topic}#${partition}`;
