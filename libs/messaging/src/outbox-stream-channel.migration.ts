import type { MigrationInterface, QueryRunner } from 'typeorm';
import { dialectOf } from '@app/persistence';

/** A second delivery channel on the outbox: the event stream (Kafka), tracked apart from the bus. */
export class OutboxStreamChannel1763769600005 implements MigrationInterface {
  name = 'OutboxStreamChannel1763769600005';

  async up(q: QueryRunner): Promise<void> {
    const type = dialectOf(q) === 'mssql' ? 'datetimeoffset' : 'timestamptz';
    await q.query(`ALTER TABLE outbox_messages ADD ${dialectOf(q) === 'mssql' ? '' : 'COLUMN '}streamed_at ${type} NULL`);
    await q.query('CREATE INDEX outbox_unstreamed ON outbox_messages (id) WHERE streamed_at IS NULL');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(dialectOf(q) === 'mssql' ? 'DROP INDEX outbox_unstreamed ON outbox_messages' : 'DROP INDEX outbox_unstreamed');
    await q.query('ALTER TABLE outbox_messages DROP COLUMN streamed_at');
  }
}
