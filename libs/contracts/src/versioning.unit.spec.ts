import { resolve } from 'node:path';
import { z } from 'zod';
import { createEnvelope } from './envelope';
import { contractSchemas, type JsonSchema } from './json-schemas';
import { OrderPlaced } from './orders.contracts';
import { contracts } from './registry';
import { breakingChanges } from './schema-compatibility';
import { checkRegistry } from './schema-registry';
import { NewerVersionError, NotUpcastableError, upcastPayload, type Versioned } from './versioning';

const ROOT = resolve(__dirname, '../../..');

describe('upcasting (a message of an older version, at the consumer’s edge)', () => {
  // v1 { amount } → v2 { amountMinor } → v3 { amountMinor, currency }
  const Paid: Versioned = {
    type: 'Paid',
    version: 3,
    older: [
      { version: 1, schema: z.object({ amount: z.number() }), upcast: (p: { amount: number }) => ({ amountMinor: Math.round(p.amount * 100) }) },
      { version: 2, schema: z.object({ amountMinor: z.number().int() }), upcast: (p: { amountMinor: number }) => ({ ...p, currency: 'USD' }) },
    ],
  };

  it.each([
    [3, { amountMinor: 150, currency: 'EUR' }, { amountMinor: 150, currency: 'EUR' }],
    [2, { amountMinor: 150 }, { amountMinor: 150, currency: 'USD' }],
    [1, { amount: 1.5 }, { amountMinor: 150, currency: 'USD' }],
  ])('v%s %j → %j', (version, payload, newest) => {
    expect(upcastPayload(Paid, version, payload)).toEqual(newest);
  });

  it('retries a version newer than this code knows, and refuses one it cannot upcast', () => {
    expect(() => upcastPayload(Paid, 4, {})).toThrow(NewerVersionError);
    expect(() => upcastPayload({ ...Paid, older: [Paid.older![1]!] }, 1, { amount: 1 })).toThrow(new NotUpcastableError('Paid v1 has no upcaster to v2'));
    expect(() => upcastPayload(Paid, 1, { amount: 'x' })).toThrow(/invalid Paid v1 payload: amount/);
  });
});

describe('OrderPlaced v1 → v2 (line totals and the customer’s email)', () => {
  const v1 = {
    orderId: '3f1d7a43-2d5b-4c55-9b0c-3a3b3f0f4a11',
    customerId: 'alice',
    items: [
      { sku: 'KB-001', quantity: 2, unitPrice: 8900 },
      { sku: 'CB-005', quantity: 1, unitPrice: 990 },
    ],
    total: 18_790,
    currency: 'USD',
  };

  it.each<[string, number, unknown, unknown]>([
    [
      'a v1 message gets its line totals, and no email',
      1,
      v1,
      {
        ...v1,
        items: [
          { sku: 'KB-001', quantity: 2, unitPrice: 8900, lineTotal: 17_800 },
          { sku: 'CB-005', quantity: 1, unitPrice: 990, lineTotal: 990 },
        ],
        email: null,
      },
    ],
    ['a v2 message is taken as it is', 2, { ...v1, items: [], email: 'a@example.com' }, { ...v1, items: [], email: 'a@example.com' }],
  ])('%s', (_, version, payload, newest) => {
    expect(upcastPayload(OrderPlaced, version, payload)).toEqual(newest);
    if (version === 1) expect(OrderPlaced.schema.safeParse(newest).success).toBe(true);
  });

  it('refuses a v1 payload its own schema refuses, naming the field', () => {
    expect(() => upcastPayload(OrderPlaced, 1, { ...v1, items: [] })).toThrow(/invalid OrderPlaced v1 payload: items/);
  });

  it('is a breaking change the check would have refused without a new version', () => {
    const v1File = contractSchemas().find((c) => c.type === 'OrderPlaced' && c.version === 1)!;
    const v2 = contractSchemas().find((c) => c.type === 'OrderPlaced' && c.version === 2)!;
    expect(breakingChanges(v1File.schema, v2.schema).sort()).toEqual(['$.email: new required field', '$.items[].lineTotal: new required field'].sort());
  });
});

describe('every contract', () => {
  it('names its version, and producers send it', () => {
    for (const c of Object.values(contracts)) expect([c.type, Number.isInteger(c.version) && c.version >= 1]).toEqual([c.type, true]);
    const e = createEnvelope({ type: OrderPlaced.type, key: 'k', source: 'order', payload: {} });
    expect(e.version).toBe(OrderPlaced.version);
  });

  it('matches its committed JSON Schema (docs/contracts, npm run contracts:export), compatibly', () => {
    const check = checkRegistry(ROOT);
    expect({
      breaking: check.breaking,
      removed: check.removed,
      'missing (run npm run contracts:export)': check.missing.map((c) => c.file),
      'changed compatibly (run npm run contracts:export)': check.outdated.map((c) => c.file),
    }).toEqual({ breaking: [], removed: [], 'missing (run npm run contracts:export)': [], 'changed compatibly (run npm run contracts:export)': [] });
  });

  it('fails the check on a breaking change to a committed version (a field removed)', () => {
    const current = contractSchemas().map((c) => {
      if (c.type !== 'OrderPlaced' || c.version !== OrderPlaced.version) return c;
      const { customerId: _removed, ...properties } = c.schema.properties as Record<string, JsonSchema>;
      return { ...c, schema: { ...c.schema, properties, required: (c.schema.required as string[]).filter((r) => r !== 'customerId') } };
    });
    expect(checkRegistry(ROOT, current).breaking).toEqual([`OrderPlaced v${OrderPlaced.version} $.customerId: removed`]);
  });
});

describe('breakingChanges (the compatibility rules)', () => {
  const json = (s: z.ZodTypeAny) => z.toJSONSchema(s, { target: 'draft-2020-12', io: 'input' }) as JsonSchema;
  const base = z.object({
    orderId: z.string().uuid(),
    total: z.number().int(),
    reason: z.enum(['A', 'B']),
    sku: z.string().max(64),
    note: z.string().optional(),
    lines: z.array(z.object({ sku: z.string(), quantity: z.number().int() })),
  });

  it.each<[string, z.ZodTypeAny, string[]]>([
    ['a field removed', base.omit({ total: true }), ['$.total: removed']],
    ['a field retyped', base.extend({ total: z.string() }), ['$.total: type integer → string']],
    ['a new required field', base.extend({ email: z.string() }), ['$.email: new required field']],
    ['an optional field made required', base.extend({ note: z.string() }), ['$.note: made required']],
    ['an enum value removed', base.extend({ reason: z.enum(['A']) }), ['$.reason: enum value(s) removed: ["B"]']],
    ['a bound tightened', base.extend({ sku: z.string().max(10) }), ['$.sku: maxLength 64 → 10']],
    ['a nested field removed', base.extend({ lines: z.array(z.object({ sku: z.string() })) }), ['$.lines[].quantity: removed']],
    ['a new optional field', base.extend({ email: z.string().optional() }), []],
    ['an enum value added', base.extend({ reason: z.enum(['A', 'B', 'C']) }), []],
    ['a field made nullable', base.extend({ sku: z.string().max(64).nullable() }), []],
    ['an integer widened to a number', base.extend({ total: z.number() }), []],
    ['a bound loosened', base.extend({ sku: z.string().max(100) }), []],
  ])('%s', (_, after, expected) => {
    expect(breakingChanges(json(base), json(after))).toEqual(expected);
  });

  it('a format imposed (zod adds its pattern too)', () => {
    expect(breakingChanges(json(base), json(base.extend({ sku: z.string().max(64).email() })))).toContain('$.sku: format null → "email"');
  });
});
