import 'reflect-metadata';
import { runStandalone } from '@app/messaging';
import { loadAnalyticsConfig } from './config';
import { AnalyticsModule } from './analytics.module';

/** Analytics on its own: `npm run start:analytics`. */
runStandalone(
  'analytics',
  () => loadAnalyticsConfig(),
  (infrastructure, config) => AnalyticsModule.register(infrastructure, config),
);
