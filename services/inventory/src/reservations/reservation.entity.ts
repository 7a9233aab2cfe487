import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import type { ReservationStatus, ReservedLine, Shortage } from './reservation.decide';

/**
 * What Inventory did for one order. VOIDED is a tombstone: the order was released before its
 * PaymentAuthorized arrived, so a late one reserves nothing.
 */
@Entity('reservations')
export class ReservationEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 }) id: string;
  @Column({ name: 'order_id', type: 'varchar', length: 36, unique: true }) orderId: string;
  @Column({ type: 'varchar', length: 20 }) status: ReservationStatus;
  /** The lines reserved (or, when FAILED, requested), one per SKU. */
  @Column({ type: 'simple-json' }) items: ReservedLine[];
  @Column({ type: 'simple-json', nullable: true }) shortages: Shortage[] | null;
  @CreateDateColumn({ name: 'created_at' }) createdAt: Date;
  @UpdateDateColumn({ name: 'updated_at' }) updatedAt: Date;
}
