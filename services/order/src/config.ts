import { z } from 'zod';
import { bool, int, loadConfig, port } from '@app/platform';

/** Order's environment, validated at start-up. Names match .env.example and the k8s ConfigMap. */
export const orderConfigShape = {
  ORDER_PORT: port(3000),
  HOST: z.string().default('127.0.0.1'),
  ADMIN_TOKEN: z.string().min(16, 'ADMIN_TOKEN must be at least 16 characters'),
  SAGA_DEADLINE_MS: int(30_000, 1),
  DEADLINE_CHECK_INTERVAL_MS: int(500, 5),
  MAX_ORDER_ITEMS: int(50, 1),
  MAX_BODY_BYTES: int(65_536, 1024),
  SEED_DEMO_DATA: bool(true),
};

export type OrderConfig = ReturnType<typeof loadOrderConfig>;

export function loadOrderConfig(env: NodeJS.ProcessEnv = process.env) {
  const c = loadConfig(orderConfigShape, env);
  return {
    port: c.ORDER_PORT,
    host: c.HOST,
    adminToken: c.ADMIN_TOKEN,
    deadlineMs: c.SAGA_DEADLINE_MS,
    deadlineCheckIntervalMs: c.DEADLINE_CHECK_INTERVAL_MS,
    maxOrderItems: c.MAX_ORDER_ITEMS,
    maxBodyBytes: c.MAX_BODY_BYTES,
    seedDemoData: c.SEED_DEMO_DATA,
  };
}

export const ORDER_CONFIG = Symbol('ORDER_CONFIG');
