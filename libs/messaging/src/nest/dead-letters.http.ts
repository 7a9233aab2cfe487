import { Controller, Delete, Get, HttpCode, Inject, Param, Post, Query, UseGuards } from '@nestjs/common';
import { z } from 'zod';
import { AdminGuard, ApiOperation, decodeCursor, fromDependency, notFound, pageOf, pageQuery, parseRequest } from '@app/platform';
import type { DeadLetter } from '../transport';

/** A dead letter as a listing found it, with the position a page that ends on it continues after. */
export interface ListedDeadLetterRow {
  deadLetter: DeadLetter;
  position: number;
}

/**
 * Where a service's dead letters are: a bus consumer's dead-letter queue (QueueDeadLetters), or
 * the records Analytics parked from its Kafka dead-letter topic. One admin API serves either.
 */
export interface DeadLetterSource {
  /** What the listing names as its queue. */
  readonly queue: string;
  /** Who answers, as a 503 names it ("the broker"). */
  readonly dependency: string;
  /** Oldest first: at most `limit` of them after position `after` (0: from the first). */
  list(after: number, limit: number): Promise<ListedDeadLetterRow[]>;
  find(id: string): Promise<DeadLetter | undefined>;
  /** Back to where the message is consumed (one by id, or all); answers how many. */
  replay(id?: string): Promise<number>;
  /** Deletes (one by id, or all); answers how many. */
  purge(id?: string): Promise<number>;
}

export const DEAD_LETTER_SOURCE = Symbol('DEAD_LETTER_SOURCE');

const listQuery = z
  .object({ ...pageQuery, limit: z.coerce.number().int('must be an integer').min(1, 'at least 1').max(200, 'at most 200').default(50) })
  .strict();
const deadLetterId = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9:._-]+$/, 'a dead-letter id as listed');

const oneDeadLetter = {
  params: { id: deadLetterId },
  example: { params: { id: 'payment:1f2e3d4c' } },
  responses: { 404: 'No such dead letter', 503: 'The broker (or, for Analytics, the database) is unavailable' },
};

function view(d: DeadLetter) {
  let message: unknown = d.body;
  try {
    message = JSON.parse(d.body);
  } catch {
    // unreadable bodies are shown as they came
  }
  return { id: d.id, queue: d.queue, routingKey: d.routingKey, deadLetteredAt: d.deadLetteredAt, failure: d.failure, headers: d.headers, message };
}

/** Dead-lettered messages stay inspectable: the admin API lists them with their failure. */
@Controller('api/admin/dead-letters')
@UseGuards(AdminGuard)
export class DeadLettersController {
  constructor(@Inject(DEAD_LETTER_SOURCE) private readonly source: DeadLetterSource) {}

  private get queue(): string {
    return this.source.queue;
  }

  private call<T>(work: () => Promise<T>): Promise<T> {
    return fromDependency(this.source.dependency, work);
  }

  /** Oldest first, a page at a time (a bus queue's as far as MAX_DEAD_LETTER_POSITION into it). */
  @Get()
  @ApiOperation({
    summary: "This service's dead letters, oldest first, a page at a time",
    query: listQuery,
    example: { query: { limit: '50' } },
    responses: { 503: 'The broker (or, for Analytics, the database) is unavailable' },
  })
  async list(@Query() query: unknown) {
    const q = parseRequest(listQuery, query);
    const after = q.cursor ? (decodeCursor(q.cursor, ['number'])[0] as number) : 0;
    const rows = await this.call(() => this.source.list(after, q.limit + 1));
    const page = pageOf(
      rows,
      q.limit,
      (r) => [r.position],
      (r) => view(r.deadLetter),
    );
    return { queue: this.queue, ...page };
  }

  @Get(':id')
  @ApiOperation({ summary: 'One dead letter, with its failure', ...oneDeadLetter })
  async show(@Param('id') id: string) {
    const key = parseRequest(deadLetterId, id, 'id');
    const item = await this.call(() => this.source.find(key));
    if (!item) throw notFound(`dead letter ${id}`);
    return view(item);
  }

  /** Back to where this service consumes it, attempts reset; the inbox absorbs an already-applied one. */
  @Post('replay')
  @HttpCode(200)
  @ApiOperation({ summary: "Replay every dead letter to this service's queue (Analytics: its retry topic), attempts reset" })
  async replayAll() {
    return { queue: this.queue, replayed: await this.call(() => this.source.replay()) };
  }

  @Post(':id/replay')
  @HttpCode(200)
  @ApiOperation({ summary: 'Replay one dead letter', ...oneDeadLetter })
  async replayOne(@Param('id') id: string) {
    const key = parseRequest(deadLetterId, id, 'id');
    const replayed = await this.call(() => this.source.replay(key));
    if (replayed === 0) throw notFound(`dead letter ${id}`);
    return { queue: this.queue, replayed };
  }

  @Delete()
  @ApiOperation({ summary: 'Purge every dead letter' })
  async purgeAll() {
    return { queue: this.queue, purged: await this.call(() => this.source.purge()) };
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Purge one dead letter', ...oneDeadLetter })
  async purgeOne(@Param('id') id: string) {
    const key = parseRequest(deadLetterId, id, 'id');
    const purged = await this.call(() => this.source.purge(key));
    if (purged === 0) throw notFound(`dead letter ${id}`);
    return { queue: this.queue, purged };
  }
}
