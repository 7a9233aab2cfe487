import { Column, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { bigintNumber } from '@app/persistence';

/** Order's product catalog: the prices orders are placed at. */
@Entity('products')
export class ProductEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 }) sku: string;
  @Column({ type: 'varchar', length: 200 }) name: string;
  @Column({ name: 'unit_price', type: 'bigint', transformer: bigintNumber }) unitPrice: number;
  @UpdateDateColumn({ name: 'updated_at' }) updatedAt: Date;
}
