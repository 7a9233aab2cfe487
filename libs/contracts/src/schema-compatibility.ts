import type { JsonSchema } from './json-schemas';

/**
 * The schema registry's compatibility check, without a registry server: is a contract
 * version's schema now (`after`) still a reader of every message written against its
 * committed schema (`before`)? Messages of a version outlive a deployment in queues, dead-letter
 * queues, Kafka and the archive, so within a version a change may only widen what is accepted.
 *
 * Breaking: a field removed; a field's type changed; a new required field (or an optional one
 * made required); an enum value removed, or an enum or const imposed; a format or pattern
 * added or changed; a bound tightened (length, size, range); additional properties refused
 * where they were allowed. Anything else (a new optional field, a bound loosened, an enum value
 * added, a type widened to a union) is additive: the version stays.
 */
export function breakingChanges(before: JsonSchema, after: JsonSchema, path = '$'): string[] {
  const problems: string[] = [];
  const b = before;
  const a = after;

  // Unions (zod's nullable/optional, discriminated unions): every branch that was accepted must still be.
  const branches = (s: JsonSchema): JsonSchema[] | undefined => (s.anyOf ?? s.oneOf) as JsonSchema[] | undefined;
  const beforeBranches = branches(b);
  const afterBranches = branches(a);
  if (beforeBranches || afterBranches) {
    for (const branch of beforeBranches ?? [b]) {
      const candidates = afterBranches ?? [a];
      const results = candidates.map((c) => breakingChanges(branch, c, path));
      if (!results.some((r) => r.length === 0)) problems.push(...(results.length === 1 ? results[0]! : [`${path}: ${describe(branch)} no longer accepted`]));
    }
    return problems;
  }

  const typeOf = (s: JsonSchema) => (s.type === undefined ? undefined : ([] as unknown[]).concat(s.type).map(String).sort().join('|'));
  const bt = typeOf(b);
  const at = typeOf(a);
  if (at !== undefined && bt !== at) {
    const widened = bt !== undefined && bt.split('|').every((t) => at.split('|').includes(t) || (t === 'integer' && at.split('|').includes('number')));
    if (!widened) problems.push(`${path}: type ${bt ?? 'any'} → ${at}`);
  }

  if (a.enum !== undefined) {
    if (b.enum === undefined) problems.push(`${path}: restricted to ${JSON.stringify(a.enum)}`);
    else {
      const removed = (b.enum as unknown[]).filter((v) => !(a.enum as unknown[]).some((w) => JSON.stringify(w) === JSON.stringify(v)));
      if (removed.length) problems.push(`${path}: enum value(s) removed: ${JSON.stringify(removed)}`);
    }
  }
  if (a.const !== undefined && JSON.stringify(a.const) !== JSON.stringify(b.const)) problems.push(`${path}: now the constant ${JSON.stringify(a.const)}`);
  for (const keyword of ['format', 'pattern'] as const) {
    if (a[keyword] !== undefined && a[keyword] !== b[keyword])
      problems.push(`${path}: ${keyword} ${JSON.stringify(b[keyword] ?? null)} → ${JSON.stringify(a[keyword])}`);
  }
  const tighter = (keyword: string, lower: boolean) => {
    const x = b[keyword] as number | undefined;
    const y = a[keyword] as number | undefined;
    if (y === undefined) return;
    if (x === undefined || (lower ? y > x : y < x)) problems.push(`${path}: ${keyword} ${x ?? 'none'} → ${y}`);
  };
  for (const k of ['minimum', 'exclusiveMinimum', 'minLength', 'minItems', 'minProperties']) tighter(k, true);
  for (const k of ['maximum', 'exclusiveMaximum', 'maxLength', 'maxItems', 'maxProperties']) tighter(k, false);

  const beforeProps = (b.properties ?? {}) as Record<string, JsonSchema>;
  const afterProps = (a.properties ?? {}) as Record<string, JsonSchema>;
  for (const [name, schema] of Object.entries(beforeProps)) {
    if (!(name in afterProps)) problems.push(`${path}.${name}: removed`);
    else problems.push(...breakingChanges(schema, afterProps[name]!, `${path}.${name}`));
  }
  const wasRequired = new Set((b.required ?? []) as string[]);
  for (const name of (a.required ?? []) as string[]) {
    if (!wasRequired.has(name)) problems.push(`${path}.${name}: ${name in beforeProps ? 'made required' : 'new required field'}`);
  }
  if (a.additionalProperties === false && b.additionalProperties !== false && bt === 'object') problems.push(`${path}: additional properties refused`);

  if (b.items !== undefined && a.items !== undefined) problems.push(...breakingChanges(b.items as JsonSchema, a.items as JsonSchema, `${path}[]`));
  return problems;
}

function describe(s: JsonSchema): string {
  return s.type !== undefined ? `type ${JSON.stringify(s.type)}` : JSON.stringify(s).slice(0, 80);
}
