import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import type { CancellationReason, OrderLine } from '@app/contracts';
import type { OrderStatus, PaymentState, StockState } from '../saga/order-saga';
import { bigintNumber } from '@app/persistence';

@Entity('orders')
@Index('orders_status_deadline', ['status', 'deadlineAt'])
@Index('orders_customer', ['customerId', 'createdAt'])
@Index('orders_created', ['createdAt', 'id'])
@Index('orders_status_created', ['status', 'createdAt', 'id'])
export class OrderEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 }) id: string;
  @Column({ name: 'customer_id', type: 'varchar', length: 64 }) customerId: string;
  @Column({ type: 'varchar', length: 20 }) status: OrderStatus;
  @Column({ name: 'cancellation_reason', type: 'varchar', length: 30, nullable: true }) cancellationReason: CancellationReason | null;
  @Column({ name: 'payment_state', type: 'varchar', length: 20 }) paymentState: PaymentState;
  @Column({ name: 'stock_state', type: 'varchar', length: 20 }) stockState: StockState;
  @Column({ name: 'refund_requested', type: Boolean }) refundRequested: boolean;
  @Column({ name: 'release_requested', type: Boolean }) releaseRequested: boolean;
  @Column({ type: 'bigint', transformer: bigintNumber }) total: number;
  @Column({ type: 'varchar', length: 3 }) currency: string;
  @Column({ type: 'simple-json' }) items: OrderLine[];
  @Column({ name: 'correlation_id', type: 'varchar', length: 200 }) correlationId: string;
  @Column({ name: 'idempotency_key', type: 'varchar', length: 200, nullable: true, unique: true }) idempotencyKey: string | null;
  @Column({ name: 'request_hash', type: 'varchar', length: 64, nullable: true }) requestHash: string | null;
  @Column({ name: 'deadline_at', type: Date }) deadlineAt: Date;
  /** The traceparent of the request that placed it (tracing on): the deadline continues its trace. */
  @Column({ name: 'trace_parent', type: 'varchar', length: 55, nullable: true }) traceParent: string | null;
  @Column({ type: 'varchar', length: 254, nullable: true }) email: string | null;
  @Column({ name: 'completed_at', type: Date, nullable: true }) completedAt: Date | null;
  @CreateDateColumn({ name: 'created_at' }) createdAt: Date;
  @UpdateDateColumn({ name: 'updated_at' }) updatedAt: Date;
}

/**
 * The saga as a person reads it: one row per message the order saw or sent. The id is
 * generated (bigserial, IDENTITY); declared with PrimaryColumn because PrimaryGeneratedColumn
 * takes no transformer.
 */
@Entity('order_timeline')
@Index('order_timeline_order', ['orderId', 'id'])
export class OrderTimelineEntity {
  @PrimaryColumn({ type: 'bigint', generated: 'increment', transformer: bigintNumber }) id: number;
  @Column({ name: 'order_id', type: 'varchar', length: 36 }) orderId: string;
  @Column({ type: 'varchar', length: 100 }) type: string;
  @Column({ type: 'varchar', length: 50 }) source: string;
  @Column({ name: 'message_id', type: 'varchar', length: 100 }) messageId: string;
  @Column({ type: 'varchar', length: 300, nullable: true }) note: string | null;
  @Column({ name: 'occurred_at', type: Date }) occurredAt: Date;
}
