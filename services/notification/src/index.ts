// The service's public module: what a composition root (the embedded launcher) may use.
export { NotificationModule } from './notification.module';
export { loadNotificationConfig } from './config';
