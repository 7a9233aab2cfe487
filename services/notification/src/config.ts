import { z } from 'zod';
import { int, loadConfig, port } from '@app/platform';

/** Notification's environment, validated at start-up. Names match .env.example and the k8s ConfigMap. */
export const notificationConfigShape = {
  NOTIFICATION_PORT: port(3005),
  HOST: z.string().default('127.0.0.1'),
  ADMIN_TOKEN: z.string().min(16, 'ADMIN_TOKEN must be at least 16 characters'),
  MAX_BODY_BYTES: int(65_536, 1024),
  /** smtp://host:port (STARTTLS when the server offers it) or smtps://host:port; the default is Mailpit's. */
  SMTP_URL: z
    .string()
    .url()
    .refine((u) => /^smtps?:\/\/[^/]+$/.test(u.replace(/\/$/, '')), 'smtp://host:port or smtps://host:port, without credentials in it')
    .refine((u) => !new URL(u).username, 'put the credentials in SMTP_USER and SMTP_PASSWORD, not in the URL')
    .default('smtp://127.0.0.1:1025'),
  SMTP_USER: z.string().max(256).optional(),
  SMTP_PASSWORD: z.string().max(1024).optional(),
  SMTP_FROM: z
    .string()
    .max(320)
    .regex(/^[^<>\r\n]*<?[^@\s<>]+@[^@\s<>]+>?$/, 'an address, e.g. "Order saga <orders@example.com>"')
    .default('Order saga <orders@example.com>'),
  /** How long one SMTP connect, greeting or reply may take before the attempt fails. */
  SMTP_TIMEOUT_MS: int(10_000, 100),
};

export type NotificationConfig = ReturnType<typeof loadNotificationConfig>;

export function loadNotificationConfig(env: NodeJS.ProcessEnv = process.env) {
  const c = loadConfig(notificationConfigShape, env);
  const fromAddress = /<?([^@\s<>]+@[^@\s<>]+)>?$/.exec(c.SMTP_FROM)![1];
  return {
    port: c.NOTIFICATION_PORT,
    host: c.HOST,
    adminToken: c.ADMIN_TOKEN,
    maxBodyBytes: c.MAX_BODY_BYTES,
    smtp: { url: c.SMTP_URL, user: c.SMTP_USER, password: c.SMTP_PASSWORD, from: c.SMTP_FROM, timeoutMs: c.SMTP_TIMEOUT_MS },
    /** The right-hand side of every Message-ID: the sender's domain. */
    messageIdDomain: fromAddress.split('@')[1],
  };
}

export const NOTIFICATION_CONFIG = Symbol('NOTIFICATION_CONFIG');
