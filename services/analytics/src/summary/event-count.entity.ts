import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintNumber } from '@app/persistence';

/** How many messages of each type Analytics has taken in, and the latest one's time. */
@Entity('event_counts')
export class EventCountEntity {
  @PrimaryColumn({ type: 'varchar', length: 100 }) type: string;
  @Column({ type: 'bigint', transformer: bigintNumber }) count: number;
  @Column({ name: 'last_at', type: Date, nullable: true }) lastAt: Date | null;
}
