import { Controller, Get, Inject, Param, Query, Res } from '@nestjs/common';
import type { Response } from 'express';
import { gunzipSync } from 'node:zlib';
import { z } from 'zod';
import { EVENT_STREAM, type EventStream } from '@app/messaging';
import { notFound, parseRequest, ProblemException } from '@app/platform';
import { ANALYTICS_CONFIG, type AnalyticsConfig } from '../config';
import { ARCHIVE_STORE, type ArchiveStore } from './archive-store';
import { rangeFromBlob, verifyPartition, type BlobRange } from './archive-verify';
import { ARCHIVE_ROOT, parseBlobName } from './blob-name';
import { ARCHIVE_TOPICS } from './archive.topics';

const listQuery = z.object({
  prefix: z
    .string()
    .max(300)
    .regex(/^[A-Za-z0-9/._-]*$/, 'letters, digits and / . _ -')
    .refine((p) => !p.includes('..'), 'no ..')
    .default(''),
  from: z.string().datetime({ offset: true }).optional(),
  to: z.string().datetime({ offset: true }).optional(),
});

const blobNameParam = z.string().regex(/^events\/[A-Za-z0-9/._-]+\.ndjson\.gz$/, 'an archive blob name as listed');

@Controller('api/analytics/archives')
export class ArchivesHttp {
  constructor(
    @Inject(ARCHIVE_STORE) private readonly storeOrNull: ArchiveStore | null,
    @Inject(EVENT_STREAM) private readonly stream: EventStream | null,
    @Inject(ANALYTICS_CONFIG) private readonly config: AnalyticsConfig,
  ) {}

  private get store(): ArchiveStore {
    if (!this.storeOrNull) throw new ProblemException(503, 'Service Unavailable', 'the archive is switched off (ANALYTICS_ARCHIVE=false)');
    return this.storeOrNull;
  }

  /** Blobs with their offsets and time range; `prefix` is below `events/` (e.g. `2026/11/22`). */
  @Get()
  async list(@Query() query: unknown) {
    const q = parseRequest(listQuery, query);
    const blobs = await this.store.list(`${ARCHIVE_ROOT}${q.prefix.replace(/^events\//, '')}`);
    const items = blobs
      .map((b) => {
        const p = parseBlobName(b.name);
        return {
          name: b.name,
          size: b.size,
          eventCount: Number(b.metadata.eventcount ?? 0),
          topic: p?.topic,
          partition: p?.partition,
          firstOffset: p?.firstOffset,
          lastOffset: p?.lastOffset,
          skippedOffsets: (b.metadata.skippedoffsets ?? '').split(',').filter(Boolean).map(Number),
          from: b.metadata.mintimestamp || null,
          to: b.metadata.maxtimestamp || null,
        };
      })
      .filter(
        (b) => (!q.from || (b.to !== null && b.to >= new Date(q.from).toISOString())) && (!q.to || (b.from !== null && b.from <= new Date(q.to).toISOString())),
      );
    return { count: items.length, items };
  }

  /**
   * Per partition of every archived topic: does the archive hold each offset up to the
   * committed one exactly once? Reads every blob, so it checks what is stored, not metadata.
   */
  @Get('verify')
  async verify() {
    if (!this.stream) throw new ProblemException(503, 'Service Unavailable', 'no event stream is configured');
    const ranges = new Map<string, BlobRange[]>();
    for (const b of await this.store.list(ARCHIVE_ROOT)) {
      const r = rangeFromBlob(b.name, b.metadata);
      if (!r) continue;
      const body = await this.store.read(b.name);
      r.offsets = body
        ? gunzipSync(body)
            .toString('utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => (JSON.parse(l) as { offset: number }).offset)
        : [];
      const k = `${r.topic}#${r.partition}`;
      ranges.set(k, [...(ranges.get(k) ?? []), r]);
    }
    const partitions = [];
    for (const topic of ARCHIVE_TOPICS) {
      const committed = new Map((await this.stream.committed(this.config.archiveGroupId, topic)).map((c) => [c.partition, c.offset]));
      for (const w of await this.stream.watermarks(topic)) {
        partitions.push(verifyPartition(topic, w.partition, committed.get(w.partition) ?? w.low, w.low, ranges.get(`${topic}#${w.partition}`) ?? []));
      }
    }
    const ok = partitions.every((p) => p.ok);
    return {
      ok,
      summary: ok ? 'the archive holds every committed offset exactly once' : 'the archive has gaps or duplicates',
      events: partitions.reduce((n, p) => n + p.events, 0),
      partitions,
    };
  }

  /** The events of one blob, as NDJSON (one `{topic, partition, offset, timestamp, event}` per line). */
  @Get('*name')
  async read(@Param('name') name: string | string[], @Res() res: Response) {
    const blob = parseRequest(blobNameParam, Array.isArray(name) ? name.join('/') : name, 'name');
    const body = await this.store.read(blob);
    if (!body) throw notFound(`archive blob ${blob}`);
    res.status(200).type('application/x-ndjson').send(gunzipSync(body));
  }
}
