import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { demoProducts } from '@app/contracts';
import { LOGGER } from '@app/messaging';
import type { Logger } from '@app/platform';
import { ORDER_CONFIG, type OrderConfig } from '../config';
import { ProductEntity } from './product.entity';

/** Seeds the demo catalog on first start (an empty catalog), unless SEED_DEMO_DATA=false. */
@Injectable()
export class DemoCatalogSeed {
  constructor(
    private readonly dataSource: DataSource,
    @Inject(ORDER_CONFIG) private readonly config: OrderConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onModuleInit(): Promise<void> {
    if (!this.config.seedDemoData) return;
    const repo = this.dataSource.getRepository(ProductEntity);
    if ((await repo.count()) > 0) return;
    await repo.insert(demoProducts.map((p) => ({ sku: p.sku, name: p.name, unitPrice: p.unitPrice })));
    this.logger.info('seeded demo catalog', { products: demoProducts.length });
  }
}
