import type { MigrationInterface, QueryRunner } from 'typeorm';
import { dialectOf } from '@app/persistence';

/**
 * Where the customer hears of the order's outcome (POST /api/orders' optional `email`, null
 * when none was given). It travels in OrderPlaced v2 and the outcome events, for Notification.
 */
export class OrderEmail1765065600001 implements MigrationInterface {
  name = 'OrderEmail1765065600001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(dialectOf(q) === 'mssql' ? 'ALTER TABLE orders ADD email nvarchar(254) NULL' : 'ALTER TABLE orders ADD COLUMN email varchar(254)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE orders DROP COLUMN email');
  }
}
