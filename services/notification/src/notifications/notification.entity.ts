import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** A delivery record, as the HTTP list reads it (the handler writes it with plain SQL). */
@Entity('notifications')
@Index('notifications_customer', ['customerId', 'createdAt'])
@Index('notifications_created', ['createdAt', 'orderId'])
export class NotificationEntity {
  @PrimaryColumn({ name: 'order_id', type: 'varchar', length: 36 }) orderId: string;
  @PrimaryColumn({ type: 'varchar', length: 20 }) outcome: string;
  @Column({ name: 'customer_id', type: 'varchar', length: 64 }) customerId: string;
  @Column({ type: 'varchar', length: 254, nullable: true }) recipient: string | null;
  @Column({ type: 'varchar', length: 300 }) subject: string;
  @Column({ type: 'varchar', length: 20 }) status: string;
  @Column({ type: 'int', default: 0 }) attempts: number;
  @Column({ name: 'last_error', type: 'varchar', length: 1000, nullable: true }) lastError: string | null;
  @Column({ name: 'message_id', type: 'varchar', length: 300 }) messageId: string;
  @Column({ name: 'smtp_response', type: 'varchar', length: 300, nullable: true }) smtpResponse: string | null;
  @Column({ name: 'correlation_id', type: 'varchar', length: 200 }) correlationId: string;
  @Column({ name: 'created_at', type: Date }) createdAt: Date;
  @Column({ name: 'updated_at', type: Date }) updatedAt: Date;
  @Column({ name: 'sent_at', type: Date, nullable: true }) sentAt: Date | null;
}
