import { z } from 'zod';
import { int, loadConfig, port } from '@app/platform';

const url = (fallback: string) => z.string().url('must be a URL such as http://127.0.0.1:3000').default(fallback);

/** The console's environment, validated at start-up. Names match .env.example. */
export const consoleConfigShape = {
  CONSOLE_PORT: port(3004),
  HOST: z.string().default('127.0.0.1'),
  ADMIN_TOKEN: z.string().min(16, 'ADMIN_TOKEN must be at least 16 characters'),
  MAX_BODY_BYTES: int(65_536, 1024),
  ORDER_URL: url('http://127.0.0.1:3000'),
  PAYMENT_URL: url('http://127.0.0.1:3001'),
  INVENTORY_URL: url('http://127.0.0.1:3002'),
  ANALYTICS_URL: url('http://127.0.0.1:3003'),
  NOTIFICATION_URL: url('http://127.0.0.1:3005'),
  /** The built single-page app (`npm run build` writes it); by default beside the built backend. */
  CONSOLE_WEB_DIR: z.string().min(1).optional(),
  /** The append-only audit log, one JSON object a line. */
  CONSOLE_AUDIT_LOG: z.string().default('.data/console-audit.log'),
  /** A session ends after this long without a request. */
  CONSOLE_SESSION_IDLE_MINUTES: int(60, 1),
};

export type ConsoleConfig = ReturnType<typeof loadConsoleConfig>;

export function loadConsoleConfig(env: NodeJS.ProcessEnv = process.env) {
  const c = loadConfig(consoleConfigShape, env);
  const trim = (u: string) => u.replace(/\/+$/, '');
  return {
    port: c.CONSOLE_PORT,
    host: c.HOST,
    adminToken: c.ADMIN_TOKEN,
    maxBodyBytes: c.MAX_BODY_BYTES,
    upstreams: {
      order: trim(c.ORDER_URL),
      payment: trim(c.PAYMENT_URL),
      inventory: trim(c.INVENTORY_URL),
      analytics: trim(c.ANALYTICS_URL),
      notification: trim(c.NOTIFICATION_URL),
    },
    webDir: c.CONSOLE_WEB_DIR,
    auditLog: c.CONSOLE_AUDIT_LOG,
    sessionIdleMs: c.CONSOLE_SESSION_IDLE_MINUTES * 60_000,
  };
}

export type Upstream = keyof ConsoleConfig['upstreams'];
export const CONSOLE_CONFIG = Symbol('CONSOLE_CONFIG');
