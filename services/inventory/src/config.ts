import { z } from 'zod';
import { bool, int, loadConfig, port } from '@app/platform';

/** Inventory's environment, validated at start-up. Names match .env.example and the k8s ConfigMap. */
export const inventoryConfigShape = {
  INVENTORY_PORT: port(3002),
  HOST: z.string().default('127.0.0.1'),
  ADMIN_TOKEN: z.string().min(16, 'ADMIN_TOKEN must be at least 16 characters'),
  MAX_BODY_BYTES: int(65_536, 1024),
  SEED_DEMO_DATA: bool(true),
};

export type InventoryConfig = ReturnType<typeof loadInventoryConfig>;

export function loadInventoryConfig(env: NodeJS.ProcessEnv = process.env) {
  const c = loadConfig(inventoryConfigShape, env);
  return {
    port: c.INVENTORY_PORT,
    host: c.HOST,
    adminToken: c.ADMIN_TOKEN,
    maxBodyBytes: c.MAX_BODY_BYTES,
    seedDemoData: c.SEED_DEMO_DATA,
  };
}

export const INVENTORY_CONFIG = Symbol('INVENTORY_CONFIG');
