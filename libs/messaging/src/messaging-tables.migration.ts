import type { MigrationInterface, QueryRunner } from 'typeorm';
import { dialectOf } from '@app/persistence';

/** Outbox and inbox tables; every service that sends or consumes includes this migration. */
export class MessagingTables1763769600000 implements MigrationInterface {
  name = 'MessagingTables1763769600000';

  async up(q: QueryRunner): Promise<void> {
    if (dialectOf(q) === 'mssql') {
      await q.query(`
        CREATE TABLE outbox_messages (
          id bigint IDENTITY(1,1) NOT NULL CONSTRAINT outbox_messages_pk PRIMARY KEY,
          message_id nvarchar(100) NOT NULL CONSTRAINT outbox_messages_message_id UNIQUE,
          type nvarchar(100) NOT NULL,
          routing_key nvarchar(200) NOT NULL,
          msg_key nvarchar(200) NOT NULL,
          envelope nvarchar(max) NOT NULL CONSTRAINT outbox_messages_envelope_json CHECK (ISJSON(envelope) = 1),
          created_at datetimeoffset NOT NULL CONSTRAINT outbox_messages_created_at DEFAULT SYSDATETIMEOFFSET(),
          published_at datetimeoffset NULL
        )`);
      await q.query('CREATE INDEX outbox_unpublished ON outbox_messages (id) WHERE published_at IS NULL');
      await q.query(`
        CREATE TABLE inbox_messages (
          consumer nvarchar(100) NOT NULL,
          message_id nvarchar(100) NOT NULL,
          message_type nvarchar(100) NOT NULL,
          received_at datetimeoffset NOT NULL CONSTRAINT inbox_messages_received_at DEFAULT SYSDATETIMEOFFSET(),
          CONSTRAINT inbox_messages_pk PRIMARY KEY (consumer, message_id)
        )`);
      return;
    }
    await q.query(`
      CREATE TABLE outbox_messages (
        id bigserial PRIMARY KEY,
        message_id varchar(100) NOT NULL UNIQUE,
        type varchar(100) NOT NULL,
        routing_key varchar(200) NOT NULL,
        msg_key varchar(200) NOT NULL,
        envelope jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        published_at timestamptz NULL
      )`);
    await q.query('CREATE INDEX outbox_unpublished ON outbox_messages (id) WHERE published_at IS NULL');
    await q.query(`
      CREATE TABLE inbox_messages (
        consumer varchar(100) NOT NULL,
        message_id varchar(100) NOT NULL,
        message_type varchar(100) NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (consumer, message_id)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE inbox_messages');
    await q.query('DROP TABLE outbox_messages');
  }
}
