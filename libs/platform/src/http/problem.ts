import { HttpException } from '@nestjs/common';
import type { ZodError } from 'zod';

export interface FieldError {
  field: string;
  message: string;
}

/** RFC 9457 problem details; `errors` names each offending field. */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  errors?: FieldError[];
  [extra: string]: unknown;
}

export class ProblemException extends HttpException {
  constructor(status: number, title: string, detail?: string, extra: Partial<ProblemBody> = {}) {
    super({ type: extra.type ?? `https://httpstatuses.io/${status}`, title, status, ...(detail ? { detail } : {}), ...extra }, status);
  }
}

export function fieldPath(path: ReadonlyArray<PropertyKey>, root?: string): string {
  let out = root ?? '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out || (root ?? '(body)');
}

export function validationProblem(error: ZodError, root?: string, status = 400): ProblemException {
  const errors = error.issues.flatMap((i) =>
    i.code === 'unrecognized_keys'
      ? i.keys.map((k) => ({ field: fieldPath([...i.path, k], root), message: 'unknown field' }))
      : [{ field: fieldPath(i.path, root), message: i.message }],
  );
  return new ProblemException(status, 'Request validation failed', errors.map((e) => `${e.field}: ${e.message}`).join('; '), { errors });
}

export const notFound = (what: string) => new ProblemException(404, 'Not Found', `${what} was not found`);
export const conflict = (detail: string, extra: Partial<ProblemBody> = {}) => new ProblemException(409, 'Conflict', detail, extra);
export const unprocessable = (detail: string, errors?: FieldError[]) => new ProblemException(422, 'Unprocessable Content', detail, errors ? { errors } : {});
export const unavailable = (detail: string) => new ProblemException(503, 'Service Unavailable', detail);

/**
 * Runs a call to a dependency (a store, a broker); if it fails, the request answers 503 with a
 * problem+json naming the dependency, not a 500: the request was fine, the dependency is down.
 * Problems the call raises itself (a 4xx it decided) pass through.
 */
export async function fromDependency<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof HttpException) throw error;
    throw unavailable(`${what} is unavailable: ${error instanceof Error ? error.message.slice(0, 200) : String(error)}`);
  }
}
