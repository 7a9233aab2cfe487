import type { MigrationInterface, QueryRunner } from 'typeorm';
import { dialectOf } from '@app/persistence';

/**
 * The W3C traceparent of the request that placed the order (null while tracing is off), so
 * that what the saga decides long after the request, its deadline, stays in the order's trace.
 */
export class OrderTraceParent1764806400001 implements MigrationInterface {
  name = 'OrderTraceParent1764806400001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      dialectOf(q) === 'mssql' ? 'ALTER TABLE orders ADD trace_parent nvarchar(55) NULL' : 'ALTER TABLE orders ADD COLUMN trace_parent varchar(55)',
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE orders DROP COLUMN trace_parent');
  }
}
