import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import type { DeclineReason } from '@app/contracts';
import type { PaymentStatus } from './payment.decide';
import { bigintNumber } from '@app/persistence';

/** One row per order Payment has heard of; amounts in minor units. */
@Entity('payments')
@Index('payments_customer', ['customerId', 'createdAt'])
export class PaymentEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 }) id: string;
  @Column({ name: 'order_id', type: 'varchar', length: 36, unique: true }) orderId: string;
  @Column({ name: 'customer_id', type: 'varchar', length: 64, nullable: true }) customerId: string | null;
  @Column({ type: 'bigint', transformer: bigintNumber }) amount: number;
  @Column({ type: 'varchar', length: 3, nullable: true }) currency: string | null;
  @Column({ type: 'varchar', length: 20 }) status: PaymentStatus;
  @Column({ name: 'decline_reason', type: 'varchar', length: 30, nullable: true }) declineReason: DeclineReason | null;
  @Column({ name: 'refunded_amount', type: 'bigint', default: 0, transformer: bigintNumber }) refundedAmount: number;
  @CreateDateColumn({ name: 'created_at' }) createdAt: Date;
  @UpdateDateColumn({ name: 'updated_at' }) updatedAt: Date;
}
