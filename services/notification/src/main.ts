import 'reflect-metadata';
import { runStandalone } from '@app/messaging';
import { loadNotificationConfig } from './config';
import { NotificationModule } from './notification.module';

/** Notification on its own: `npm run start:notification`. */
runStandalone(
  'notification',
  () => loadNotificationConfig(),
  (infrastructure, config) => NotificationModule.register(infrastructure, config),
);
