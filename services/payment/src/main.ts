import 'reflect-metadata';
import { runStandalone } from '@app/messaging';
import { loadPaymentConfig } from './config';
import { PaymentModule } from './payment.module';

/** Payment on its own: `npm run start:payment`. */
runStandalone(
  'payment',
  () => loadPaymentConfig(),
  (infrastructure, config) => PaymentModule.register(infrastructure, config),
);
