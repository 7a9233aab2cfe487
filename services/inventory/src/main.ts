import 'reflect-metadata';
import { runStandalone } from '@app/messaging';
import { loadInventoryConfig } from './config';
import { InventoryModule } from './inventory.module';

/** Inventory on its own: `npm run start:inventory`. */
runStandalone(
  'inventory',
  () => loadInventoryConfig(),
  (infrastructure, config) => InventoryModule.register(infrastructure, config),
);
