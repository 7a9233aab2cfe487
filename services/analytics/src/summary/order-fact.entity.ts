import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { CancellationReason } from '@app/contracts';
import type { OrderFactStatus } from './order-facts.projection';
import { bigintNumber } from '@app/persistence';

/** One row per order Analytics has heard of, as far as its events tell. */
@Entity('order_facts')
@Index('order_facts_status', ['status'])
export class OrderFactEntity {
  @PrimaryColumn({ name: 'order_id', type: 'varchar', length: 36 }) orderId: string;
  @Column({ name: 'customer_id', type: 'varchar', length: 64, nullable: true }) customerId: string | null;
  @Column({ type: 'varchar', length: 20 }) status: OrderFactStatus;
  @Column({ type: 'bigint', nullable: true, transformer: bigintNumber }) total: number | null;
  @Column({ type: 'varchar', length: 3, nullable: true }) currency: string | null;
  @Column({ name: 'cancellation_reason', type: 'varchar', length: 30, nullable: true }) cancellationReason: CancellationReason | null;
  @Column({ name: 'placed_at', type: Date, nullable: true }) placedAt: Date | null;
  @Column({ name: 'completed_at', type: Date, nullable: true }) completedAt: Date | null;
  @Column({ name: 'updated_at', type: Date }) updatedAt: Date;
}
