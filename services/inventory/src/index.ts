// The service's public module: what a composition root (the embedded launcher) may use.
export { InventoryModule } from './inventory.module';
export { loadInventoryConfig } from './config';
