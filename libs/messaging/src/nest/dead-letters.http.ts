import { Controller, Delete, Get, HttpCode, Inject, Param, Post, UseGuards } from '@nestjs/common';
import { AdminGuard, notFound } from '@app/platform';
import { TRANSPORT, type DeadLetter, type Transport } from '../transport';

export const DEAD_LETTER_QUEUE = Symbol('DEAD_LETTER_QUEUE');

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

  @Get()
  async list() {
    const items = await this.transport.deadLetters(this.queue);
    return { queue: this.queue, count: items.length, items: items.map(view) };
  }

  @Get(':id')
  async show(@Param('id') id: string) {
    const item = (await this.transport.deadLetters(this.queue)).find((d) => d.id === id);
    if (!item) throw notFound(`dead letter ${id}`);
    return view(item);
  }

  /** Back to this service's queue, attempts reset; the inbox absorbs an already-applied one. */
  @Post('replay')
  @HttpCode(200)
  async replayAll() {
    return { queue: this.queue, replayed: await this.transport.replayDeadLetters(this.queue) };
  }

  @Post(':id/replay')
  @HttpCode(200)
  async replayOne(@Param('id') id: string) {
    const replayed = await this.transport.replayDeadLetters(this.queue, id);
    if (replayed === 0) throw notFound(`dead letter ${id}`);
    return { queue: this.queue, replayed };
  }

  @Delete()
  async purgeAll() {
    return { queue: this.queue, purged: await this.transport.purgeDeadLetters(this.queue) };
  }

  @Delete(':id')
  async purgeOne(@Param('id') id: string) {
    const purged = await this.transport.purgeDeadLetters(this.queue, id);
    if (purged === 0) throw notFound(`dead letter ${id}`);
    return { queue: this.queue, purged };
  }
}
