import { Module, type DynamicModule } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { DeadLettersController, serviceKit, type ServiceInfrastructure } from '@app/messaging';
import { HealthController } from '@app/platform';
import { AccountEntity } from './accounts/account.entity';
import { AccountsHttp } from './accounts/accounts.http';
import { DemoAccountsSeed } from './accounts/demo-accounts.seed';
import { PAYMENT_CONFIG, type PaymentConfig } from './config';
import { PAYMENT_GATEWAY } from './gateway/payment-gateway';
import { SimulatedPaymentGateway } from './gateway/simulated-payment-gateway';
import { PaymentTables1763769600002 } from './migrations/1763769600002-payment-tables';
import { PaymentEntity } from './payments/payment.entity';
import { PaymentHandlers, SERVICE } from './payments/payment.handlers';
import { PaymentsHttp } from './payments/payments.http';

@Module({})
export class PaymentModule {
  /** The only place that decides Payment's adapters: whatever `infrastructure` carries, and the simulated gateway. */
  static register(infrastructure: ServiceInfrastructure, config: PaymentConfig): DynamicModule {
    return {
      module: PaymentModule,
      imports: [TerminusModule],
      controllers: [PaymentsHttp, AccountsHttp, HealthController, DeadLettersController],
      providers: [
        ...serviceKit({
          service: SERVICE,
          infrastructure,
          adminToken: config.adminToken,
          entities: [PaymentEntity, AccountEntity],
          migrations: [PaymentTables1763769600002],
          handlers: PaymentHandlers,
          sagaDeadLetters: true,
        }),
        { provide: PAYMENT_CONFIG, useValue: config },
        { provide: PAYMENT_GATEWAY, useClass: SimulatedPaymentGateway },
        PaymentHandlers,
        DemoAccountsSeed,
      ],
    };
  }
}
