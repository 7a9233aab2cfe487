import { Module, type DynamicModule } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { DeadLettersController, serviceKit, type ServiceInfrastructure } from '@app/messaging';
import { HealthController, serviceRegistry } from '@app/platform';
import { ORDER_CONFIG, type OrderConfig } from './config';
import { OrderTables1763769600001 } from './migrations/1763769600001-order-tables';
import { OrderListIndexes1764547200001 } from './migrations/1764547200001-order-list-indexes';
import { OrderTraceParent1764806400001 } from './migrations/1764806400001-order-trace-parent';
import { OrderEmail1765065600001 } from './migrations/1765065600001-order-email';
import { CancelOrderHttp } from './orders/cancel-order/cancel-order.http';
import { GetOrderHttp } from './orders/get-order/get-order.http';
import { OrderEntity, OrderTimelineEntity } from './orders/order.entity';
import { PlaceOrder } from './orders/place-order/place-order';
import { PlaceOrderHttp } from './orders/place-order/place-order.http';
import { DemoCatalogSeed } from './products/demo-catalog.seed';
import { ProductEntity } from './products/product.entity';
import { PriceCache } from './products/price-cache';
import { ProductsHttp } from './products/products.http';
import { OrderDeadlineScheduler } from './saga/order-saga.deadline';
import { OrderSagaHandlers, SERVICE } from './saga/order-saga.handlers';
import { orderSagaMetrics, OrderSagaMetrics } from './saga/order-saga.metrics';

@Module({})
export class OrderModule {
  /** The only place that decides Order's adapters: whatever `infrastructure` carries. */
  static register(infrastructure: ServiceInfrastructure, config: OrderConfig): DynamicModule {
    return {
      module: OrderModule,
      imports: [TerminusModule],
      controllers: [PlaceOrderHttp, GetOrderHttp, CancelOrderHttp, ProductsHttp, HealthController, DeadLettersController],
      providers: [
        ...serviceKit({
          service: SERVICE,
          infrastructure,
          adminToken: config.adminToken,
          entities: [OrderEntity, OrderTimelineEntity, ProductEntity],
          migrations: [OrderTables1763769600001, OrderListIndexes1764547200001, OrderTraceParent1764806400001, OrderEmail1765065600001],
          handlers: OrderSagaHandlers,
          sagaDeadLetters: true,
        }),
        { provide: ORDER_CONFIG, useValue: config },
        { provide: OrderSagaMetrics, useFactory: () => orderSagaMetrics(serviceRegistry(SERVICE)) },
        OrderSagaHandlers,
        OrderDeadlineScheduler,
        PlaceOrder,
        PriceCache,
        DemoCatalogSeed,
      ],
    };
  }
}
