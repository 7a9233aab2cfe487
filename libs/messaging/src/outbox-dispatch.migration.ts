import type { MigrationInterface, QueryRunner } from 'typeorm';
import { dialectOf } from '@app/persistence';

/**
 * The dispatcher (ADR 0007) sends committed rows from memory and deletes them once every channel
 * has them; the sweeper re-sends what a crash or an outage left, under a lease per channel
 * (`<channel>_claimed_until`) rather than a lock, so no transaction stays open while a broker is
 * asked and one channel's sweep never waits for the other's.
 */
export class OutboxDispatch1764547200000 implements MigrationInterface {
  name = 'OutboxDispatch1764547200000';

  async up(q: QueryRunner): Promise<void> {
    const mssql = dialectOf(q) === 'mssql';
    for (const channel of ['bus', 'stream']) {
      await q.query(`ALTER TABLE outbox_messages ADD ${mssql ? '' : 'COLUMN '}${channel}_claimed_until ${mssql ? 'datetimeoffset' : 'timestamptz'} NULL`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const channel of ['bus', 'stream']) await q.query(`ALTER TABLE outbox_messages DROP COLUMN ${channel}_claimed_until`);
  }
}
