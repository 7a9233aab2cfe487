import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { demoAccounts } from '@app/contracts';
import { LOGGER } from '@app/messaging';
import type { Logger } from '@app/platform';
import { PAYMENT_CONFIG, type PaymentConfig } from '../config';
import { AccountEntity } from './account.entity';

/** Seeds the demo accounts on first start (no accounts yet), unless SEED_DEMO_DATA=false. */
@Injectable()
export class DemoAccountsSeed {
  constructor(
    private readonly dataSource: DataSource,
    @Inject(PAYMENT_CONFIG) private readonly config: PaymentConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onModuleInit(): Promise<void> {
    if (!this.config.seedDemoData) return;
    const repo = this.dataSource.getRepository(AccountEntity);
    if ((await repo.count()) > 0) return;
    await repo.insert(demoAccounts.map((a) => ({ customerId: a.customerId, balance: a.balance, simulateGatewayError: false })));
    this.logger.info('seeded demo accounts', { accounts: demoAccounts.length });
  }
}
