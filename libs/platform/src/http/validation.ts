import type { z } from 'zod';
import { validationProblem } from './problem';

/** Parse a request part with a zod schema; a failure is a 400 problem naming each field. */
export function parseRequest<S extends z.ZodTypeAny>(schema: S, value: unknown, root?: string): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw validationProblem(result.error, root);
  return result.data;
}
