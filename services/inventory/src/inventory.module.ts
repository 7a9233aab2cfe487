import { Module, type DynamicModule } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { DeadLettersController, serviceKit, type ServiceInfrastructure } from '@app/messaging';
import { HealthController } from '@app/platform';
import { INVENTORY_CONFIG, type InventoryConfig } from './config';
import { InventoryTables1763769600003 } from './migrations/1763769600003-inventory-tables';
import { ReservationEntity } from './reservations/reservation.entity';
import { InventoryHandlers, SERVICE } from './reservations/reservation.handlers';
import { ReservationsHttp } from './reservations/reservations.http';
import { DemoStockSeed } from './stock/demo-stock.seed';
import { StockEntity } from './stock/stock.entity';
import { StockHttp } from './stock/stock.http';

@Module({})
export class InventoryModule {
  /** The only place that decides Inventory's adapters: whatever `infrastructure` carries. */
  static register(infrastructure: ServiceInfrastructure, config: InventoryConfig): DynamicModule {
    return {
      module: InventoryModule,
      imports: [TerminusModule],
      controllers: [StockHttp, ReservationsHttp, HealthController, DeadLettersController],
      providers: [
        ...serviceKit({
          service: SERVICE,
          infrastructure,
          adminToken: config.adminToken,
          entities: [StockEntity, ReservationEntity],
          migrations: [InventoryTables1763769600003],
          handlers: InventoryHandlers,
          sagaDeadLetters: true,
        }),
        { provide: INVENTORY_CONFIG, useValue: config },
        InventoryHandlers,
        DemoStockSeed,
      ],
    };
  }
}
