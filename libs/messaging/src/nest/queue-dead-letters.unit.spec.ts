import { InMemoryTransport } from '../memory/in-memory.transport';
import { MAX_DEAD_LETTER_POSITION } from '../transport';
import { DeadLettersController } from './dead-letters.http';
import { QueueDeadLetters } from './queue-dead-letters';

describe("a bus queue's dead letters through the admin controller", () => {
  const controller = new DeadLettersController(new QueueDeadLetters(new InMemoryTransport(), 'payment'));
  const cursorAt = (position: number) => Buffer.from(JSON.stringify([position])).toString('base64url');

  it('pages as far as MAX_DEAD_LETTER_POSITION into the queue, and no further', async () => {
    await expect(controller.list({ limit: '50', cursor: cursorAt(MAX_DEAD_LETTER_POSITION - 50) })).resolves.toEqual({
      queue: 'payment',
      items: [],
      count: 0,
      nextCursor: null,
    });
    await expect(controller.list({ limit: '50', cursor: cursorAt(MAX_DEAD_LETTER_POSITION - 49) })).rejects.toMatchObject({ status: 400 });
  });

  it('answers 404 for a dead letter it does not have', async () => {
    await expect(controller.show('payment:1f2e3d4c')).rejects.toMatchObject({ status: 404 });
    await expect(controller.replayOne('payment:1f2e3d4c')).rejects.toMatchObject({ status: 404 });
    await expect(controller.purgeOne('payment:1f2e3d4c')).rejects.toMatchObject({ status: 404 });
  });
});
