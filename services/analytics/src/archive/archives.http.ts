import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query, Res, UseGuards } from '@nestjs/common';
import type { Response } from 'express';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { z } from 'zod';
import { contracts, upcastPayload, type Envelope } from '@app/contracts';
import { AdminGuard, ApiOperation, conflict, fromDependency, notFound, parseRequest, unavailable } from '@app/platform';
import { parseOffsets } from './archive-blob';
import { ARCHIVE_STORE, InvalidContinuationToken, type ArchiveStore } from './archive-store';
import { ArchiveVerifications } from './archive-verifications';
import { ARCHIVE_ROOT, parseBlobName } from './blob-name';
import { ARCHIVE_TOPICS } from './archive.topics';
import { ProblemException } from '@app/platform';

const gunzipAsync = promisify(gunzip);

const listQuery = z
  .object({
    prefix: z
      .string()
      .max(300)
      .regex(/^[A-Za-z0-9/._-]*$/, 'letters, digits and / . _ -')
      .refine((p) => !p.includes('..'), 'no ..')
      .default(''),
    from: z.string().datetime({ offset: true }).optional(),
    to: z.string().datetime({ offset: true }).optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    continuationToken: z
      .string()
      .max(2048)
      .regex(/^[A-Za-z0-9+/=_.-]+$/, 'a continuationToken as returned by the previous page')
      .optional(),
  })
  .strict();

const verificationBody = z
  .object({
    topic: z.enum(ARCHIVE_TOPICS as [string, ...string[]]).optional(),
    partition: z.number().int().min(0).max(10_000).optional(),
    fromOffset: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
    toOffset: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  })
  .strict()
  .refine((b) => b.partition === undefined || b.topic !== undefined, { path: ['partition'], message: 'a partition needs its topic' })
  .refine((b) => (b.fromOffset === undefined && b.toOffset === undefined) || b.partition !== undefined, {
    path: ['fromOffset'],
    message: 'an offset range needs its topic and partition',
  })
  .refine((b) => b.fromOffset === undefined || b.toOffset === undefined || b.fromOffset <= b.toOffset, {
    path: ['toOffset'],
    message: 'at least fromOffset',
  });

const verificationId = z.string().uuid('a verification id as returned by POST');

/** `as=stored` (the default): each event as it was archived; `as=newest`: upcast to its contract's newest version (ADR 0010). */
const readQuery = z.object({ as: z.enum(['stored', 'newest']).default('stored') }).strict();

// Parsed with the archive's own naming grammar; anything it would not write is refused before
// the name gets near the store (whose URL building resolves `..`).
const blobName = z
  .string()
  .max(300)
  .refine((name) => parseBlobName(name) !== null, 'an archive blob name as listed (events/<yyyy>/<MM>/<dd>/<HH>/<topic>-p<n>-<first>-<last>.ndjson.gz)');

@Controller('api/analytics/archives')
export class ArchivesHttp {
  constructor(
    @Inject(ARCHIVE_STORE) private readonly storeOrNull: ArchiveStore | null,
    @Inject(ArchiveVerifications) private readonly verificationsOrNull: ArchiveVerifications | null,
  ) {}

  private get store(): ArchiveStore {
    if (!this.storeOrNull) throw unavailable('the archive is switched off (ANALYTICS_ARCHIVE=false)');
    return this.storeOrNull;
  }

  /**
   * One page of blobs with their offsets and time range; `prefix` is below `events/` (e.g.
   * `2026/11/22`), `from`/`to` keep blobs whose events overlap the interval (on this page).
   */
  @Get()
  @ApiOperation({
    summary: 'One page of archive blobs, with their offsets and time range',
    query: listQuery,
    example: { query: { prefix: '2026/11/22', from: '2026-11-22T00:00:00Z', to: '2026-11-23T00:00:00Z', limit: '100' } },
    responses: { 503: 'The archive store is unavailable, or the archive is switched off' },
  })
  async list(@Query() query: unknown) {
    const q = parseRequest(listQuery, query);
    const page = await fromDependency('the archive store', async () => {
      try {
        return await this.store.listPage(`${ARCHIVE_ROOT}${q.prefix.replace(/^events\//, '')}`, q.limit, q.continuationToken);
      } catch (error) {
        if (error instanceof InvalidContinuationToken)
          throw new ProblemException(400, 'Request validation failed', 'continuationToken: not one this listing issued', {
            errors: [{ field: 'continuationToken', message: 'not one this listing issued' }],
          });
        throw error;
      }
    });
    const from = q.from ? new Date(q.from).toISOString() : null;
    const to = q.to ? new Date(q.to).toISOString() : null;
    const items = page.items
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
          skippedOffsets: parseOffsets(b.metadata.skippedoffsets),
          duplicateOffsets: parseOffsets(b.metadata.duplicateoffsets),
          from: b.metadata.mintimestamp || null,
          to: b.metadata.maxtimestamp || null,
        };
      })
      .filter((b) => (!from || (b.to !== null && b.to >= from)) && (!to || (b.from !== null && b.from <= to)));
    return { count: items.length, items, continuationToken: page.continuationToken };
  }

  /**
   * Starts a check that the archive holds each committed offset exactly once (reads every blob
   * in scope: all archived topics, one topic, or one partition). It runs in the background;
   * the answer's Location is where its progress and verdict are read.
   */
  @Post('verifications')
  @HttpCode(202)
  @UseGuards(AdminGuard)
  @ApiOperation({
    summary: 'Start a check that the archive holds each committed offset exactly once (admin)',
    description:
      'Scope: every archived topic, one topic, one partition, or a range of its offsets (`fromOffset`..`toOffset`, both included; either end may be left open). It runs in the background; `Location` is where its progress and verdict are read.',
    body: verificationBody,
    example: { body: { topic: 'order-events' } },
    responses: {
      202: 'Started: the verification, running',
      409: "A verification is already running; the problem's `location` names it",
      503: 'The event stream or the archive is unavailable',
    },
  })
  start(@Body() body: unknown, @Res({ passthrough: true }) res: Response) {
    const { fromOffset, toOffset, ...where } = parseRequest(verificationBody, body ?? {});
    const scope =
      fromOffset === undefined && toOffset === undefined ? where : { ...where, offsets: { from: fromOffset ?? 0, to: toOffset ?? Number.MAX_SAFE_INTEGER } };
    const verifications = this.verifications;
    if (!verifications.ready()) throw unavailable('the event stream is unavailable: a verification needs its committed offsets');
    const running = verifications.current();
    if (running) throw conflict('a verification is already running; read it, then start another', { location: this.location(running.id) });
    const job = verifications.start(scope);
    res.setHeader('Location', this.location(job.id));
    return job;
  }

  @Get('verifications/:id')
  @ApiOperation({
    summary: 'A verification: its progress, then its report',
    params: { id: verificationId },
    example: { params: { id: '3f0c9a52-8d7e-4b1a-9c55-2e6f1d0b7a34' } },
    responses: { 404: 'No such verification', 503: 'The archive is switched off, or no event stream is configured' },
  })
  read(@Param('id') id: string) {
    const job = this.verifications.get(parseRequest(verificationId, id, 'id'));
    if (!job) throw notFound(`verification ${id}`);
    return job;
  }

  /**
   * The events of one blob, as NDJSON (one `{topic, partition, offset, timestamp, event}` per
   * line): as archived, or with `?as=newest` each event as its contract's newest version, so a
   * reader of years of archive handles one shape (an event that cannot be upcast is left as
   * stored, with `upcastError` beside it).
   */
  @Get('*name')
  @ApiOperation({
    summary: 'The events of one blob, as NDJSON (one `{topic, partition, offset, timestamp, event}` per line), as stored or upcast',
    params: { name: blobName },
    query: readQuery,
    example: { params: { name: 'events/2026/11/22/13/order-events-p2-000000001200-000000001399.ndjson.gz' }, query: { as: 'newest' } },
    responses: { 200: 'The events, as application/x-ndjson', 404: 'No such blob', 503: 'The archive store is unavailable' },
  })
  async blob(@Param('name') name: string | string[], @Query() query: unknown, @Res() res: Response) {
    const { as } = parseRequest(readQuery, query);
    const raw = parseRequest(blobName, Array.isArray(name) ? name.join('/') : name, 'name');
    const body = await fromDependency('the archive store', () => this.store.read(raw));
    if (!body) throw notFound(`archive blob ${raw}`);
    const ndjson = await gunzipAsync(body);
    res
      .status(200)
      .type('application/x-ndjson')
      .send(as === 'stored' ? ndjson : upcastLines(ndjson.toString('utf8')));
  }

  private get verifications(): ArchiveVerifications {
    if (!this.storeOrNull) throw unavailable('the archive is switched off (ANALYTICS_ARCHIVE=false)');
    if (!this.verificationsOrNull) throw unavailable('no event stream is configured');
    return this.verificationsOrNull;
  }

  private location(id: string): string {
    return `/api/analytics/archives/verifications/${id}`;
  }
}

/** Each archived line with its event as the newest version of its contract. */
export function upcastLines(ndjson: string): string {
  return ndjson
    .split('\n')
    .map((line) => {
      if (!line) return line;
      const entry = JSON.parse(line) as { event: Envelope };
      const contract = contracts[entry.event.type];
      if (!contract || entry.event.version === contract.version) return line;
      try {
        const payload = upcastPayload(contract, entry.event.version, entry.event.payload);
        return JSON.stringify({ ...entry, event: { ...entry.event, version: contract.version, payload } });
      } catch (error) {
        return JSON.stringify({ ...entry, upcastError: error instanceof Error ? error.message : String(error) });
      }
    })
    .join('\n');
}
