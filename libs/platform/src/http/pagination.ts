import { z } from 'zod';
import { ProblemException } from './problem';

/**
 * Every list endpoint answers one page: at most `limit` items (default 50, at most 500) and a
 * `nextCursor` that names where the next page starts (keyset pagination: the sort key of the
 * last item, opaque to clients), null on the last page.
 */
export const MAX_PAGE = 500;

export const pageQuery = {
  limit: z.coerce.number().int('must be an integer').min(1, 'at least 1').max(MAX_PAGE, `at most ${MAX_PAGE}`).default(50),
  cursor: z
    .string()
    .max(512)
    .regex(/^[A-Za-z0-9_-]+$/, 'a cursor as returned by the previous page')
    .optional(),
};

export interface Page<T> {
  items: T[];
  count: number;
  nextCursor: string | null;
}

/** A page's shape, for the OpenAPI document: `pageSchema(productView)`. */
export const pageSchema = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), count: z.number().int(), nextCursor: z.string().nullable().describe('where the next page starts; null on the last page') });

export type CursorKey = Array<string | number>;

export function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

/** The key a cursor names; a cursor that is not one of this list's is a 400 naming `cursor`. */
export function decodeCursor(cursor: string, shape: Array<'string' | 'number' | 'date'>): CursorKey {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    key = null;
  }
  const valid =
    Array.isArray(key) &&
    key.length === shape.length &&
    key.every((v, i) =>
      shape[i] === 'number'
        ? Number.isSafeInteger(v)
        : typeof v === 'string' && v.length <= 200 && (shape[i] !== 'date' || !Number.isNaN(new Date(v).getTime())),
    );
  if (!valid) {
    throw new ProblemException(400, 'Request validation failed', 'cursor: not a cursor of this list', {
      errors: [{ field: 'cursor', message: 'not a cursor of this list' }],
    });
  }
  return key as CursorKey;
}

/**
 * A page from `limit + 1` rows fetched in list order: the extra row, if there, says that more
 * follow, and the last kept row's key is the next cursor.
 */
export function pageOf<R, T>(rows: R[], limit: number, keyOf: (row: R) => CursorKey, view: (row: R) => T): Page<T> {
  const kept = rows.slice(0, limit);
  const more = rows.length > limit;
  return { items: kept.map(view), count: kept.length, nextCursor: more && kept.length ? encodeCursor(keyOf(kept[kept.length - 1])) : null };
}
