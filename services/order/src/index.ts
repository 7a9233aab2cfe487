// The service's public module: what a composition root (the embedded launcher) may use.
export { OrderModule } from './order.module';
export { loadOrderConfig } from './config';
