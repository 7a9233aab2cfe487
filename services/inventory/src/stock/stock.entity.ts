import { Column, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/** One row per SKU: what can still be reserved, and what is held for orders. */
@Entity('stock')
export class StockEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 }) sku: string;
  @Column({ type: 'int' }) available: number;
  @Column({ type: 'int', default: 0 }) reserved: number;
  @UpdateDateColumn({ name: 'updated_at' }) updatedAt: Date;
}
