import type { SqlDatabase } from '@app/persistence';
import { describeStatement, inDatabaseSpan } from './tracing';

describe('describeStatement (a database span’s name)', () => {
  it.each([
    ['INSERT INTO outbox_messages (message_id, type) VALUES ($1, $2) RETURNING id', 'INSERT', 'outbox_messages'],
    ['INSERT INTO inbox_messages (consumer, message_id) VALUES ($1, $2) ON CONFLICT DO UPDATE SET updated_at = now()', 'INSERT', 'inbox_messages'],
    ['UPDATE outbox_messages SET bus_sent_at = now() WHERE id = ANY($1::bigint[])', 'UPDATE', 'outbox_messages'],
    [
      'WITH c AS (SELECT id FROM outbox_messages ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) UPDATE outbox_messages o SET x = 1 FROM c',
      'UPDATE',
      'outbox_messages',
    ],
    ['DELETE FROM "payment"."outbox_messages" WHERE id IN (SELECT CAST(value AS bigint) FROM OPENJSON(@0))', 'DELETE', 'outbox_messages'],
    ['MERGE INTO [dbo].[stock] AS t USING (VALUES (@0)) AS s (sku) ON t.sku = s.sku', 'MERGE', 'stock'],
    ['SELECT updated_at, status FROM orders WHERE id = ANY($1)', 'SELECT', 'orders'],
    ['SELECT s.sku FROM unnest($1::text[]) AS w(sku) JOIN stock s ON s.sku = w.sku', 'SELECT', undefined],
    ['SELECT x.id FROM unnest($1::uuid[]) AS x(id) WHERE EXISTS (SELECT 1 FROM reservations r WHERE r.order_id = x.id)', 'SELECT', 'reservations'],
    ['-- a comment naming UPDATE things\nSELECT 1', 'SELECT', undefined],
    ['BEGIN', 'BEGIN', undefined],
  ])('%s → %s %s', (text, operation, collection) => {
    expect(describeStatement(text)).toEqual(collection ? { operation, collection } : { operation });
  });
});

describe('inDatabaseSpan while tracing is off', () => {
  it('hands the work the database itself: no wrapper, no span', async () => {
    const db = { dialect: 'postgres' } as SqlDatabase;
    await expect(inDatabaseSpan('order', 'transaction', db, ['00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'], async (d) => d)).resolves.toBe(db);
  });
});
