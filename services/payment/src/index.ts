// The service's public module: what a composition root (the embedded launcher) may use.
export { PaymentModule } from './payment.module';
export { loadPaymentConfig } from './config';
