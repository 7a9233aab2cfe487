import { Column, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { bigintNumber } from '@app/persistence';

/** A customer's prepaid balance, in minor units; orders are paid from it. */
@Entity('accounts')
export class AccountEntity {
  @PrimaryColumn({ name: 'customer_id', type: 'varchar', length: 64 }) customerId: string;
  @Column({ type: 'bigint', transformer: bigintNumber }) balance: number;
  /** Like a payment provider's magic test card: the gateway is unavailable for this account. */
  @Column({ name: 'simulate_gateway_error', type: Boolean, default: false }) simulateGatewayError: boolean;
  @UpdateDateColumn({ name: 'updated_at' }) updatedAt: Date;
}
