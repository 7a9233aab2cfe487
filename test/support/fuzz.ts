import fc from 'fast-check';
import { request as httpRequest } from 'node:http';

/**
 * Random HTTP inputs for the fuzzer (test/fuzz.e2e.spec.ts): bodies, query strings, path
 * parameters and headers of every shape a careless or hostile client can send. Each endpoint
 * mixes inputs built from a valid request (so that some reach the handlers' deeper checks) with
 * inputs that are wrong in every way (types, sizes, nesting, encodings, prototype keys).
 */
export interface RawRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Sends the request exactly as given (no URL normalization, no header validation). */
export function send(base: string, r: RawRequest): Promise<RawResponse> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: r.method,
        path: r.path,
        headers: { ...r.headers, ...(r.body !== undefined ? { 'content-length': String(Buffer.byteLength(r.body)) } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    if (r.body !== undefined) req.write(r.body);
    req.end();
  });
}

const weirdStrings = fc.constantFrom(
  '',
  ' ',
  '..',
  '../..',
  '%2e%2e',
  '%00',
  'null',
  'undefined',
  'NaN',
  '__proto__',
  'constructor',
  'prototype',
  '\u0000',
  '\u202e',
  '😀',
  'ǅ',
  '<script>',
  "' OR 1=1 --",
  '${7*7}',
  '%',
  '%%',
  '\\',
  'a'.repeat(300),
  '9'.repeat(40),
);
const text = fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: 'grapheme', maxLength: 40 }), weirdStrings);

const hugeNumbers = fc.constantFrom(
  0,
  -0,
  -1,
  1.5,
  1e-320,
  2 ** 31,
  2 ** 31 - 1,
  2 ** 53,
  2 ** 53 + 2,
  Number.MAX_SAFE_INTEGER,
  1e15,
  1e21,
  1e308,
  -1e308,
  1_000_000_000,
  1_000_000_000.001,
  99999999999.99,
);
const number = fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), hugeNumbers);

/** Any JSON value, nested a little, with prototype keys among the object keys. */
const jsonValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    number,
    text,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(text, fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString')), tie('value'), { maxKeys: 4 }),
  ),
})).value;

/** Mutations of a valid body: drop, retype or add a field, or nest one deeply. */
function mutate(valid: Record<string, unknown>): fc.Arbitrary<unknown> {
  const keys = Object.keys(valid);
  return fc.oneof(
    fc.constant(valid),
    fc.constantFrom(...keys).map((k) => Object.fromEntries(Object.entries(valid).filter(([key]) => key !== k))),
    fc.tuple(fc.constantFrom(...keys), jsonValue).map(([k, v]) => ({ ...valid, [k]: v })),
    fc.tuple(fc.constantFrom(...keys), number).map(([k, v]) => ({ ...valid, [k]: v })),
    fc.tuple(fc.oneof(text, fc.constantFrom('__proto__', 'constructor')), jsonValue).map(([k, v]) => ({ ...valid, [k]: v })),
    fc.tuple(fc.constantFrom(...keys), fc.integer({ min: 1, max: 60 })).map(([k, depth]) => {
      let v: unknown = valid[k];
      for (let i = 0; i < depth; i++) v = [v];
      return { ...valid, [k]: v };
    }),
  );
}

/** A body as sent: JSON of a (mutated) value, or text no JSON parser should accept. */
export function bodies(
  valid: Record<string, unknown> | null,
  nested?: (v: Record<string, unknown>) => fc.Arbitrary<unknown>,
): fc.Arbitrary<string | undefined> {
  const raw = fc.oneof(
    fc.constant(undefined),
    fc.constant(''),
    text,
    fc.integer({ min: 1, max: 20_000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`),
    fc.integer({ min: 1, max: 5_000 }).map((n) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`),
    fc.constantFrom(
      '{"a":1,"a":2}',
      '{"__proto__":{"admin":true}}',
      '{"constructor":{"prototype":{"x":1}}}',
      'NaN',
      '1e999',
      '[1,]',
      '{',
      '"\\ud800"',
      '\u0000',
    ),
    jsonValue.map((v) => JSON.stringify(v)),
  );
  if (!valid) return raw;
  const shaped = fc.oneof(mutate(valid), ...(nested ? [nested(valid)] : [])).map((v) => JSON.stringify(v));
  // Duplicated keys: the last one wins in JSON.parse; the body must still be judged as a whole.
  const duplicated = fc
    .tuple(fc.constantFrom(...Object.keys(valid)), jsonValue)
    .map(([k, v]) => JSON.stringify(valid).replace(/^\{/, `{${JSON.stringify(k)}:${JSON.stringify(v)},`));
  return fc.oneof({ weight: 5, arbitrary: shaped }, { weight: 1, arbitrary: duplicated }, { weight: 3, arbitrary: raw });
}

/** A path segment: a value from `good` (ids that exist), or anything, percent-encoded or not. */
export function segment(good: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...good) },
    { weight: 2, arbitrary: text.map((s) => encodeURIComponent(s)) },
    { weight: 1, arbitrary: fc.constantFrom('..', '%2e%2e', '%2F', 'a%00b', '%E0%A4%A', '%', 'x'.repeat(2000), '.', '%20') },
  );
}

/** A query string from `good` parameters (some kept, some changed), plus anything else. */
export function queries(good: Record<string, string[]>): fc.Arbitrary<string> {
  const names = [...Object.keys(good), 'limit', 'cursor', '__proto__', 'constructor'];
  const value = (name: string) =>
    fc.oneof(
      ...(Object.hasOwn(good, name) && good[name].length ? [fc.constantFrom(...good[name])] : []),
      text,
      number.map(String),
      fc.constantFrom('', '-1', '0', '1', '500', '501', '1e3', '0x10', 'true', '[]', '{}'),
    );
  const pair = fc.oneof(
    fc.constantFrom(...names).chain((n) => value(n).map((v) => `${encodeURIComponent(n)}=${encodeURIComponent(v)}`)),
    fc.constantFrom(...names).map((n) => `${n}[]=1`),
    fc.constantFrom(...names).map((n) => `${n}[a][b]=1`),
    fc.constantFrom(...names).map((n) => `${n}=1&${n}=2`),
    text.map((t) => encodeURIComponent(t)),
    fc.constantFrom('%', '%zz=1', '&&', '=', 'a=%E0%A4%A'),
  );
  // The good parameters with good values (some of them), so that many queries are accepted.
  const wellFormed = fc
    .subarray(Object.entries(good).filter(([, vs]) => vs.length))
    .chain((entries) => fc.tuple(...entries.map(([n, vs]) => fc.constantFrom(...vs).map((v) => `${n}=${encodeURIComponent(v)}`))))
    .chain((ps) => fc.option(fc.integer({ min: 1, max: 500 }), { nil: undefined }).map((limit) => [...ps, ...(limit ? [`limit=${limit}`] : [])]));
  return fc
    .oneof(
      fc.array(pair, { maxLength: 5 }),
      wellFormed,
      fc.tuple(wellFormed, fc.array(pair, { maxLength: 2 })).map(([a, b]) => [...a, ...b]),
    )
    .map((ps) => (ps.length ? `?${ps.join('&')}` : ''));
}

/** Headers: content types, Authorization of every kind, Idempotency-Key shapes, a correlation id. */
export function headers(adminToken: string, opts: { json?: boolean } = {}): fc.Arbitrary<Record<string, string>> {
  const contentType = fc.oneof(
    { weight: opts.json ? 6 : 1, arbitrary: fc.constant('application/json') },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        'application/json; charset=utf-8',
        'application/merge-patch+json',
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/json; charset=latin1',
        'application/xml',
        '',
        '*/*',
      ),
    },
  );
  const authorization = fc.oneof(
    { weight: 4, arbitrary: fc.constant(`Bearer ${adminToken}`) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        '',
        'Bearer',
        'Bearer ',
        `bearer ${adminToken}`,
        `Bearer ${adminToken} `,
        `Bearer ${adminToken}x`,
        `Bearer ${adminToken.slice(1)}`,
        `Basic ${Buffer.from(`admin:${adminToken}`).toString('base64')}`,
        `Token ${adminToken}`,
        `Bearer ${'x'.repeat(5000)}`,
      ),
    },
    fc.string({ maxLength: 60, unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) }).map((s) => `Bearer ${s}`),
  );
  const idempotencyKey = fc.oneof(
    fc.uuid(),
    fc.constantFrom('', ' ', 'k', 'x'.repeat(200), 'x'.repeat(201), 'with space', 'tab\tkey', '\u00e9t\u00e9'),
    fc.string({ maxLength: 40, unit: fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c)) }),
  );
  const random = fc
    .record(
      {
        'content-type': contentType,
        authorization,
        'idempotency-key': idempotencyKey,
        'x-correlation-id': fc.oneof(fc.uuid(), fc.constantFrom('', 'x'.repeat(500), '../../etc')),
      },
      { requiredKeys: [] },
    )
    .map((h) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k, latin1(v)])));
  // What a well-behaved client sends, so that many bodies reach the handlers.
  const clean = fc.record({
    'content-type': fc.constant('application/json'),
    authorization: fc.constant(`Bearer ${adminToken}`),
    'idempotency-key': fc.uuid(),
  });
  return fc.oneof({ weight: 1, arbitrary: clean }, { weight: 1, arbitrary: random });
}

/** Node sends header values of tab, visible ASCII and latin1 bytes only; others become '?'. */
function latin1(v: string): string {
  return [...v].map((c) => (/^[\t\x20-\x7e\x80-\xff]$/.test(c) ? c : '?')).join('');
}
