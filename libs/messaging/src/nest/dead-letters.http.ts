import { Controller, Delete, Get, HttpCode, Inject, Param, Post, Query, UseGuards } from '@nestjs/common';
import { z } from 'zod';
import { AdminGuard, ApiOperation, decodeCursor, fromDependency, notFound, pageOf, pageQuery, parseRequest, ProblemException } from '@app/platform';
import { MAX_DEAD_LETTER_POSITION, TRANSPORT, type DeadLetter, type Transport } from '../transport';

export const DEAD_LETTER_QUEUE = Symbol('DEAD_LETTER_QUEUE');

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
  responses: { 404: 'No such dead letter', 503: 'The broker is unavailable' },
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
  constructor(
    @Inject(TRANSPORT) private readonly transport: Transport,
    @Inject(DEAD_LETTER_QUEUE) private readonly queue: string,
  ) {}

  /** Oldest first, a page at a time, as far as MAX_DEAD_LETTER_POSITION into the queue. */
  @Get()
  @ApiOperation({
    summary: "This service's dead letters, oldest first, a page at a time",
    query: listQuery,
    example: { query: { limit: '50' } },
    responses: { 503: 'The broker is unavailable' },
  })
  async list(@Query() query: unknown) {
    const q = parseRequest(listQuery, query);
    const offset = q.cursor ? (decodeCursor(q.cursor, ['number'])[0] as number) : 0;
    if (offset < 0 || offset + q.limit > MAX_DEAD_LETTER_POSITION) {
      throw new ProblemException(400, 'Request validation failed', `cursor: beyond the first ${MAX_DEAD_LETTER_POSITION} dead letters`, {
        errors: [{ field: 'cursor', message: `beyond the first ${MAX_DEAD_LETTER_POSITION} dead letters; replay or purge to reach further` }],
      });
    }
    const rows = await fromDependency('the broker', () => this.transport.deadLetters(this.queue, { offset, limit: q.limit + 1 }));
    let position = offset;
    const page = pageOf(
      rows.map((d) => ({ d, next: ++position })),
      q.limit,
      (r) => [r.next],
      (r) => view(r.d),
    );
    return { queue: this.queue, ...page };
  }

  @Get(':id')
  @ApiOperation({ summary: 'One dead letter, with its failure', ...oneDeadLetter })
  async show(@Param('id') id: string) {
    const key = parseRequest(deadLetterId, id, 'id');
    const item = (await fromDependency('the broker', () => this.transport.deadLetters(this.queue))).find((d) => d.id === key);
    if (!item) throw notFound(`dead letter ${id}`);
    return view(item);
  }

  /** Back to this service's queue, attempts reset; the inbox absorbs an already-applied one. */
  @Post('replay')
  @HttpCode(200)
  @ApiOperation({ summary: "Replay every dead letter to this service's queue, attempts reset" })
  async replayAll() {
    return { queue: this.queue, replayed: await this.transport.replayDeadLetters(this.queue) };
  }

  @Post(':id/replay')
  @HttpCode(200)
  @ApiOperation({ summary: 'Replay one dead letter', ...oneDeadLetter })
  async replayOne(@Param('id') id: string) {
    const replayed = await this.transport.replayDeadLetters(this.queue, parseRequest(deadLetterId, id, 'id'));
    if (replayed === 0) throw notFound(`dead letter ${id}`);
    return { queue: this.queue, replayed };
  }

  @Delete()
  @ApiOperation({ summary: 'Purge every dead letter' })
  async purgeAll() {
    return { queue: this.queue, purged: await this.transport.purgeDeadLetters(this.queue) };
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Purge one dead letter', ...oneDeadLetter })
  async purgeOne(@Param('id') id: string) {
    const purged = await this.transport.purgeDeadLetters(this.queue, parseRequest(deadLetterId, id, 'id'));
    if (purged === 0) throw notFound(`dead letter ${id}`);
    return { queue: this.queue, purged };
  }
}
