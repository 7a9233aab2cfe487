import { z } from 'zod';

/**
 * Validates the environment at start-up; a bad value fails fast with a message naming the
 * variable. Each service's config.ts describes its variables with these helpers.
 */
export function loadConfig<S extends z.ZodRawShape>(shape: S, env: NodeJS.ProcessEnv = process.env): z.infer<z.ZodObject<S>> {
  const result = z.object(shape).safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}

export const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
export const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => ['true', '1', 'yes'].includes(v));
export const int = (fallback: number, min = 0) => z.coerce.number().int().min(min).default(fallback);
export const csvInts = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((s, ctx) => {
      const parts = s
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean)
        .map(Number);
      if (parts.some((n) => !Number.isInteger(n) || n < 0)) ctx.addIssue({ code: 'custom', message: 'expected comma-separated non-negative integers' });
      return parts;
    });
