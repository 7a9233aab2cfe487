import { Inject, Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { demoProducts } from '@app/contracts';
import { LOGGER } from '@app/messaging';
import { dialectOf } from '@app/persistence';
import type { Logger } from '@app/platform';
import { INVENTORY_CONFIG, type InventoryConfig } from '../config';
import { StockEntity } from './stock.entity';

/** Seeds the demo stock on first start (an empty stock table), unless SEED_DEMO_DATA=false. */
@Injectable()
export class DemoStockSeed {
  constructor(
    private readonly dataSource: DataSource,
    @Inject(INVENTORY_CONFIG) private readonly config: InventoryConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onModuleInit(): Promise<void> {
    if (!this.config.seedDemoData) return;
    const repo = this.dataSource.getRepository(StockEntity);
    if ((await repo.count()) > 0) return;
    // orIgnore: two instances starting together on one database both find it empty.
    const insert = (m: EntityManager) =>
      m
        .getRepository(StockEntity)
        .createQueryBuilder()
        .insert()
        .values(demoProducts.map((p) => ({ sku: p.sku, available: p.stock, reserved: 0 })))
        .orIgnore()
        .execute();
    // PostgreSQL's ON CONFLICT DO NOTHING is atomic; SQL Server's orIgnore is a MERGE, atomic
    // against the other instance's only under SERIALIZABLE (what MERGE's HOLDLOCK does).
    if (dialectOf(this.dataSource) === 'mssql') await this.dataSource.transaction('SERIALIZABLE', insert);
    else await insert(this.dataSource.manager);
    this.logger.info('seeded demo stock', { skus: demoProducts.length });
  }
}
