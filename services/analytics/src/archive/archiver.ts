import type { Envelope } from '@app/contracts';
import type { EventStream, StreamBatch, StreamConsumerHandle, StreamRecord } from '@app/messaging';
import { sleep, type Logger } from '@app/platform';
import { buildBlob, type BlobUpload } from './archive-blob';
import type { ArchiveManifest, ManifestBlob } from './archive-manifest';
import { parseRecord, type ParsedRecord } from './archive-record';
import type { ArchiveStore } from './archive-store';

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
  /** A blob this run uploaded was marked stored, holding `events` lines (the metrics count it). */
  onStored?: (events: number) => void;
}

interface Item {
  record: StreamRecord;
  parsed: ParsedRecord;
  /** Folded into the summary (committed); every item is, before its blob is claimed. */
  projected: boolean;
}

interface PartitionState {
  topic: string;
  partition: number;
  /** Records read that no blob holds yet, in offset order. */
  items: Item[];
  openedAt: number;
  /**
   * The blobs already claimed (by an earlier run, or by another member) from where this run
   * began reading, in offset order: their records are read again, never claimed again. Looked
   * up at the first record; null until then.
   */
  claimed: ManifestBlob[] | null;
  /** The records read so far of each claimed blob still pending, by name: this run uploads it again. */
  rebuild: Map<string, Item[]>;
  /** Blobs done with but for their upload (if any), mark and commit, oldest first: kept until those succeed. */
  resolving: Array<{ name: string; lastOffset: number; upload: BlobUpload | null }>;
  /** Highest offset read by this run. */
  readThrough: number;
  /** Highest offset of the last blob this run found stored, uploaded, or skipped as stored. */
  resolvedThrough: number;
  /** The next offset this run has committed (or -1 before the first commit). */
  committed: number;
  /** When this run last committed an offset of the partition (ms since the epoch; 0: never). */
  committedAtMs: number;
  /** Never commit at or past this offset (a pending blob this run cannot upload). */
  blockedFrom: number;
  /** Taken away from this member: nothing more is claimed or committed for it. */
  revoked: boolean;
  chain: Promise<unknown>;
}

/** The archive's two stores: the blobs, and the manifest that says which blob holds what. */
export interface ArchiveTarget {
  store: ArchiveStore;
  manifest: ArchiveManifest;
}

/** How long a revocation waits for the partition's upload in flight (well inside Kafka's rebalance timeout). */
const REVOKE_WAIT_MS = 10_000;

/**
 * Where events enter Analytics. For every record, in partition order: a poison record goes to
 * the retry topic (then the dead-letter topic); a good one is projected into the summary
 * (inbox-deduplicated) and buffered. A partition's buffer becomes one gzip NDJSON blob: it is
 * claimed in the manifest (ADR 0008), uploaded, marked stored, and only then are its offsets
 * committed, never past a blob still pending. Records read again (a restart, a partition that
 * moved) that the manifest says a blob holds are not claimed again: a stored blob is skipped, a
 * pending one is uploaded again with the same bytes. An event whose messageId the archive
 * already holds is recorded in its blob as a duplicate offset, not as a second line.
 */
export class Archiver {
  private handle?: StreamConsumerHandle;
  private readonly partitions = new Map<string, PartitionState>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly stream: EventStream,
    /** null: project only, keep no archive (ANALYTICS_ARCHIVE=false). */
    private readonly archive: ArchiveTarget | null,
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
      onRevoked: (revoked) => this.onRevoked(revoked),
    });
    this.timer = setInterval(() => void this.flushDue(), Math.max(50, Math.min(500, Math.floor(this.options.batchMaxMs / 2))));
    this.timer.unref();
  }

  /** The partitions this member reads that it has committed at least once, with when it last did. */
  commits(): Array<{ topic: string; partition: number; committedAtMs: number }> {
    return [...this.partitions.values()]
      .filter((s) => s.committedAtMs > 0)
      .map((s) => ({ topic: s.topic, partition: s.partition, committedAtMs: s.committedAtMs }));
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

  /**
   * Another member owns these now and reads them again from the committed offset. An upload in
   * flight is let finish (bounded), so the new owner finds its blob stored rather than pending;
   * either way this member commits nothing more for them: a late commit could move the group's
   * offset back below the new owner's.
   */
  private async onRevoked(revoked: Array<{ topic: string; partition: number }>): Promise<void> {
    const waits: Array<Promise<unknown>> = [];
    for (const tp of revoked) {
      const s = this.partitions.get(key(tp.topic, tp.partition));
      if (!s) continue;
      s.revoked = true;
      this.partitions.delete(key(tp.topic, tp.partition));
      waits.push(s.chain);
    }
    if (waits.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), REVOKE_WAIT_MS)));
    const outcome = await Promise.race([Promise.all(waits), timeout]);
    clearTimeout(timer);
    if (outcome === 'timeout') this.logger.warn('revoked partitions still uploading; the new owner uploads the same blobs', { revoked });
  }

  private state(topic: string, partition: number): PartitionState {
    const k = key(topic, partition);
    let s = this.partitions.get(k);
    if (!s) {
      s = {
        topic,
        partition,
        items: [],
        openedAt: 0,
        claimed: null,
        rebuild: new Map(),
        resolving: [],
        readThrough: -1,
        resolvedThrough: -1,
        committed: -1,
        committedAtMs: 0,
        blockedFrom: Number.MAX_SAFE_INTEGER,
        revoked: false,
        chain: Promise.resolve(),
      };
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
        if (s.revoked) return;
        // Read already (a batch delivered again after a failure): buffered or archived.
        if (record.offset <= s.readThrough) continue;
        if (this.archive) {
          s.claimed ??= await this.archive.manifest.blobsFrom(s.topic, s.partition, record.offset);
          if (this.collect(s, record)) {
            s.readThrough = record.offset;
            await this.settle(s);
            continue;
          }
        }
        const parsed = await this.route(record);
        if (s.items.length === 0) s.openedAt = Date.now();
        s.items.push({ record, parsed, projected: parsed.kind !== 'event' });
        s.readThrough = record.offset;
        if (s.items.length >= this.options.batchMaxEvents) await this.flush(s);
        else if (this.archive) await this.settle(s);
      }
      // The slice's events, in one transaction (not one per event).
      await this.projectPending(s);
    });
  }

  /**
   * A record some blob already holds (the manifest claimed it before this run read it): true,
   * and kept if that blob is pending, to upload it again. Poison in it went to the retry topic,
   * and its events into the summary, before the claim: neither is done again.
   */
  private collect(s: PartitionState, record: StreamRecord): boolean {
    const blob = s.claimed!.find((b) => b.firstOffset <= record.offset && record.offset <= b.lastOffset);
    if (!blob) return false;
    if (blob.state === 'pending') {
      const items = s.rebuild.get(blob.name) ?? [];
      if ((items.at(-1)?.record.offset ?? -1) < record.offset) items.push({ record, parsed: parseRecord(record.value), projected: true });
      s.rebuild.set(blob.name, items);
    }
    return true;
  }

  /**
   * Finishes what can be finished, oldest first: each claimed blob read through its last offset
   * (skipped if stored; uploaded again from the records read if still pending: its first owner
   * died, or is still uploading the same bytes), then each blob waiting for its upload, mark
   * and commit. A failure leaves the rest for the next call (the next record, or the timer).
   */
  private async settle(s: PartitionState): Promise<void> {
    while (s.claimed && s.claimed.length > 0 && s.readThrough >= s.claimed[0].lastOffset) await this.finishClaimed(s);
    while (s.resolving.length > 0) {
      const r = s.resolving[0];
      if (r.upload) await this.put(r.upload);
      const pendingFrom = await this.archive!.manifest.markStored(r.name, s.topic, s.partition);
      if (r.upload) this.options.onStored?.(Number(r.upload.metadata.eventcount) || 0);
      s.resolving.shift();
      s.resolvedThrough = Math.max(s.resolvedThrough, r.lastOffset);
      await this.commit(s, pendingFrom);
    }
  }

  private async finishClaimed(s: PartitionState): Promise<void> {
    const blob = s.claimed![0];
    const items = s.rebuild.get(blob.name) ?? [];
    let upload: BlobUpload | null = null;
    if (blob.state === 'pending') {
      const events = items.flatMap((i) => (i.parsed.kind === 'event' ? [{ offset: i.record.offset, messageId: i.parsed.envelope.messageId }] : []));
      const now = await this.archive!.manifest.contents(blob.name, events);
      if (now.state === 'pending' && items[0]?.record.offset !== blob.firstOffset) {
        // Never expected: a committed offset is never inside a pending blob. Writing what was
        // read would replace the blob with less; leave it pending and commit nothing past it.
        this.logger.error('a pending blob begins before this run began reading; it is left pending', { blob: blob.name, readFrom: items[0]?.record.offset });
        s.blockedFrom = Math.min(s.blockedFrom, blob.firstOffset);
        s.claimed!.shift();
        s.rebuild.delete(blob.name);
        return;
      }
      if (now.state === 'pending') {
        this.logger.info('uploading a blob an earlier owner claimed and did not mark stored', { blob: blob.name });
        upload = buildBlob(blob.name, items, now.lines);
      }
    } else {
      this.logger.info('skipping events an earlier run already archived', { blob: blob.name, from: blob.firstOffset, through: blob.lastOffset });
    }
    s.claimed!.shift();
    s.rebuild.delete(blob.name);
    s.resolving.push({ name: blob.name, lastOffset: blob.lastOffset, upload });
  }

  /** Folds the buffered events not yet in the summary into it (at least once; the inbox counts each once). */
  private async projectPending(s: PartitionState): Promise<void> {
    const pending = s.items.filter((i) => !i.projected);
    if (pending.length === 0) return;
    await this.project(pending.flatMap((i) => (i.parsed.kind === 'event' ? [i.parsed.newest] : [])));
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
    const retried = record.topic === this.options.retryTopic;
    const origin = retried
      ? { topic: record.headers['x-original-topic'], partition: record.headers['x-original-partition'], offset: record.headers['x-original-offset'] }
      : { topic: record.topic, partition: String(record.partition), offset: String(record.offset) };
    const failedAt = new Date().toISOString();
    const headers: Record<string, string> = {
      // The record's own headers (message-id, message-type, source) name it even when its value is unreadable.
      ...Object.fromEntries(Object.entries(record.headers).filter(([name]) => !name.startsWith('x-'))),
      'x-error': parsed.error.slice(0, 1000),
      ...(parsed.stack ? { 'x-error-stack': parsed.stack.slice(0, 2000) } : {}),
      'x-original-topic': String(origin.topic),
      'x-original-partition': String(origin.partition),
      'x-original-offset': String(origin.offset),
      // Reads that found it poison: one on its own topic, one per pass through the retry topic
      // (a dead letter replayed by an operator passes through it again).
      'x-attempts': String(retried ? (Number(record.headers['x-attempts']) || 1) + 1 : 1),
      'x-first-failed-at': (retried && (record.headers['x-first-failed-at'] ?? record.headers['x-failed-at'])) || failedAt,
      'x-failed-at': failedAt,
    };
    if (retried) {
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

  /**
   * Commits past the blobs resolved so far, but never past a blob still pending or a record
   * still held (they must be read again if this run dies), never backwards, never once revoked.
   */
  private async commit(s: PartitionState, pendingFrom: number | null): Promise<void> {
    const held = Math.min(
      s.items[0]?.record.offset ?? Number.MAX_SAFE_INTEGER,
      ...[...s.rebuild.values()].map((r) => r[0]?.record.offset ?? Number.MAX_SAFE_INTEGER),
    );
    const next = Math.min(s.resolvedThrough + 1, pendingFrom ?? Number.MAX_SAFE_INTEGER, s.blockedFrom, held);
    if (s.revoked || next <= 0 || next <= s.committed) return;
    await this.handle!.commit([{ topic: s.topic, partition: s.partition, offset: next }]);
    s.committed = next;
    s.committedAtMs = Date.now();
  }

  private async flushDue(): Promise<void> {
    const now = Date.now();
    for (const s of this.partitions.values()) {
      const due = s.items.length > 0 && now - s.openedAt >= this.options.batchMaxMs;
      const unfinished = s.resolving.length > 0 || (!!s.claimed?.length && s.readThrough >= s.claimed[0].lastOffset);
      if (due || unfinished) {
        await this.serial(s, () => this.flush(s)).catch((error) =>
          this.logger.warn('archive flush failed; will retry', { topic: s.topic, partition: s.partition, error: String(error) }),
        );
      }
    }
  }

  /** The buffer as one blob: projected first, claimed second, uploaded third, committed last. */
  private async flush(s: PartitionState): Promise<void> {
    if (this.archive) await this.settle(s);
    if (s.items.length === 0 || s.revoked) return;
    await this.projectPending(s);
    const items = s.items;
    const last = items[items.length - 1].record.offset;
    if (!this.archive) {
      s.items = [];
      s.resolvedThrough = last;
      return this.commit(s, null);
    }
    // Revoked while projecting: the records are the new owner's to claim.
    if (s.revoked) return;
    const claim = await this.archive.manifest.claim(
      s.topic,
      s.partition,
      items.map((i) => ({
        offset: i.record.offset,
        timestamp: i.record.timestamp,
        messageId: i.parsed.kind === 'event' ? i.parsed.envelope.messageId : null,
      })),
    );
    s.items = [];
    if (claim.blob) {
      const mine = items.filter((i) => i.record.offset >= claim.blob!.firstOffset);
      s.resolving.push({ name: claim.blob.name, lastOffset: claim.blob.lastOffset, upload: buildBlob(claim.blob.name, mine, claim.blob.lines) });
    }
    if (claim.taken.length > 0) {
      // Another member claimed some of these first (the partition moved while one of us was
      // still reading): its blobs are handled as claimed ones, like those read again at a start.
      this.logger.warn('records already claimed by another blob; not claimed again', { blobs: claim.taken.map((b) => b.name) });
      const known = new Set(s.claimed!.map((b) => b.name));
      s.claimed = [...claim.taken.filter((b) => !known.has(b.name)), ...s.claimed!].sort((a, b) => a.firstOffset - b.firstOffset);
      const through = claim.blob ? claim.blob.firstOffset - 1 : last;
      for (const i of items) {
        if (i.record.offset > through || this.collect(s, i.record)) continue;
        // Never expected: claims are contiguous from where a partition was first read.
        this.logger.error('a record below the claimed offsets is in no blob', { topic: s.topic, partition: s.partition, offset: i.record.offset });
      }
    }
    await this.settle(s);
  }

  /** Uploads a claimed blob (the fault injection's window: uploaded, neither marked nor committed). */
  private async put(blob: BlobUpload): Promise<void> {
    await this.archive!.store.put(blob.name, blob.body, blob.metadata);
    if (this.options.killAfterUpload) {
      this.logger.warn('fault injection: killing the process between upload and commit', { blob: blob.name });
      process.kill(process.pid, 'SIGKILL');
    }
    this.logger.debug('archived', { blob: blob.name, events: blob.metadata.eventcount });
  }
}

const key = (topic: string, partition: number) => `${topic}#${partition}`;
