import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import type { EventStream } from '@app/messaging';
import type { Logger } from '@app/platform';
import type { ArchiveStore } from './archive-store';
import {
  duplicateMessages,
  rangeFromBlob,
  verifyPartition,
  type BlobRange,
  type DuplicateMessage,
  type OffsetWindow,
  type PartitionReport,
} from './archive-verify';
import { ARCHIVE_ROOT } from './blob-name';

const gunzipAsync = promisify(gunzip);

export interface VerificationScope {
  /** One archived topic, or all of them. */
  topic?: string;
  /** One partition of that topic. */
  partition?: number;
  /** Offsets of that partition, both ends included: only they are checked. */
  offsets?: OffsetWindow;
}

export interface VerificationReport {
  ok: boolean;
  summary: string;
  events: number;
  blobs: number;
  partitions: PartitionReport[];
  /** messageIds on more than one line of the blobs read (the scope's, all partitions together). */
  duplicateMessages: DuplicateMessage[];
}

export interface Verification {
  id: string;
  scope: VerificationScope;
  status: 'running' | 'done' | 'failed';
  startedAt: string;
  finishedAt: string | null;
  /** Blobs read so far. */
  blobsRead: number;
  report: VerificationReport | null;
  error: string | null;
}

/** Blobs listed per page and read at once: what one verification holds in flight. */
const PAGE = 500;
const READS_IN_FLIGHT = 4;
/** Finished verifications kept for reading; the oldest go first. */
const KEPT = 20;

/**
 * `verify` as a background job: it reads every blob in its scope, page by page, a few at a time,
 * decompressing on libuv's thread pool, so the event loop keeps serving while it runs however big
 * the archive is. One runs at a time per instance; its result is read by id.
 */
export class ArchiveVerifications {
  private readonly jobs = new Map<string, Verification>();
  private running: Verification | null = null;

  constructor(
    private readonly store: ArchiveStore,
    private readonly stream: EventStream,
    private readonly groupId: string,
    private readonly topics: readonly string[],
    private readonly logger: Logger,
  ) {}

  get(id: string): Verification | undefined {
    return this.jobs.get(id);
  }

  /** The verification in progress, if any (a second one waits for it to finish). */
  current(): Verification | null {
    return this.running;
  }

  /** Whether what a verification reads (the stream's offsets) can be reached now. */
  ready(): boolean {
    return this.stream.isReady();
  }

  start(scope: VerificationScope): Verification {
    if (this.running) throw new Error('a verification is already running');
    const job: Verification = {
      id: randomUUID(),
      scope,
      status: 'running',
      startedAt: new Date().toISOString(),
      finishedAt: null,
      blobsRead: 0,
      report: null,
      error: null,
    };
    this.jobs.set(job.id, job);
    for (const old of [...this.jobs.keys()].slice(0, Math.max(0, this.jobs.size - KEPT))) this.jobs.delete(old);
    this.running = job;
    void this.run(job).finally(() => {
      this.running = null;
    });
    return job;
  }

  private async run(job: Verification): Promise<void> {
    try {
      job.report = await this.verify(job);
      job.status = 'done';
    } catch (error) {
      job.status = 'failed';
      job.error = error instanceof Error ? error.message : String(error);
      this.logger.warn('archive verification failed', { id: job.id, error: job.error });
    } finally {
      job.finishedAt = new Date().toISOString();
    }
  }

  private async verify(job: Verification): Promise<VerificationReport> {
    const topics = job.scope.topic ? [job.scope.topic] : this.topics;
    const offsets = job.scope.offsets;
    // Committed offsets first, blobs second: an offset is committed only after its blob is
    // stored, so every blob a committed offset needs is already there when the listing runs.
    // (The other way round, a blob stored and committed between the two reads is a false gap.)
    const positions: Array<{ topic: string; partition: number; committed: number; low: number }> = [];
    for (const topic of topics) {
      const committed = new Map((await this.stream.committed(this.groupId, topic)).map((c) => [c.partition, c.offset]));
      for (const w of await this.stream.watermarks(topic)) {
        if (job.scope.partition !== undefined && w.partition !== job.scope.partition) continue;
        positions.push({ topic, partition: w.partition, committed: committed.get(w.partition) ?? w.low, low: w.low });
      }
    }

    const ranges = new Map<string, BlobRange[]>();
    let token: string | undefined;
    do {
      const page = await this.store.listPage(ARCHIVE_ROOT, PAGE, token);
      const wanted = page.items
        .map((b) => rangeFromBlob(b.name, b.metadata))
        .filter((r): r is BlobRange => r !== null)
        .filter((r) => topics.includes(r.topic) && (job.scope.partition === undefined || r.partition === job.scope.partition))
        .filter((r) => !offsets || (r.firstOffset <= offsets.to && r.lastOffset >= offsets.from));
      for (let i = 0; i < wanted.length; i += READS_IN_FLIGHT) {
        await Promise.all(
          wanted.slice(i, i + READS_IN_FLIGHT).map(async (range) => {
            range.lines = await this.linesIn(range.name);
            const k = `${range.topic}#${range.partition}`;
            ranges.set(k, [...(ranges.get(k) ?? []), range]);
            job.blobsRead++;
          }),
        );
      }
      token = page.continuationToken ?? undefined;
    } while (token);

    const partitions = positions.map((p) => verifyPartition(p.topic, p.partition, p.committed, p.low, ranges.get(`${p.topic}#${p.partition}`) ?? [], offsets));
    const duplicates = duplicateMessages([...ranges.values()].flat());
    const ok = partitions.every((p) => p.ok) && duplicates.length === 0;
    return {
      ok,
      summary: ok ? 'the archive holds every committed offset and every event exactly once' : 'the archive has gaps or duplicates',
      events: partitions.reduce((n, p) => n + p.events, 0),
      blobs: job.blobsRead,
      partitions,
      duplicateMessages: duplicates,
    };
  }

  /** A blob's lines, offset and messageId (what is stored, not what its metadata says). */
  private async linesIn(name: string): Promise<Array<{ offset: number; messageId: string }>> {
    const body = await this.store.read(name);
    if (!body) return [];
    const text = (await gunzipAsync(body)).toString('utf8');
    return text
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const line = JSON.parse(l) as { offset: number; event: { messageId: string } };
        return { offset: line.offset, messageId: line.event.messageId };
      });
  }
}
