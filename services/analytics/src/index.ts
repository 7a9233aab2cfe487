// The service's public module: what a composition root (the embedded launcher) may use.
export { AnalyticsModule } from './analytics.module';
export { loadAnalyticsConfig } from './config';
