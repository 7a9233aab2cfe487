import 'reflect-metadata';
import { runStandalone } from '@app/messaging';
import { loadOrderConfig } from './config';
import { OrderModule } from './order.module';

/** Order on its own: `npm run start:order`. */
runStandalone(
  'order',
  () => loadOrderConfig(),
  (infrastructure, config) => OrderModule.register(infrastructure, config),
);
