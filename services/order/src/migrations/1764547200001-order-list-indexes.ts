import type { MigrationInterface, QueryRunner } from 'typeorm';
import { dialectOf } from '@app/persistence';

/**
 * GET /api/orders pages newest first, by (created_at, id), with or without a status filter; the
 * customer filter already has orders_customer. One index behind every filter.
 */
export class OrderListIndexes1764547200001 implements MigrationInterface {
  name = 'OrderListIndexes1764547200001';

  async up(q: QueryRunner): Promise<void> {
    await q.query('CREATE INDEX orders_created ON orders (created_at, id)');
    await q.query('CREATE INDEX orders_status_created ON orders (status, created_at, id)');
  }

  async down(q: QueryRunner): Promise<void> {
    const on = dialectOf(q) === 'mssql' ? ' ON orders' : '';
    await q.query(`DROP INDEX orders_status_created${on}`);
    await q.query(`DROP INDEX orders_created${on}`);
  }
}
