import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { contractSchemas, CONTRACTS_DIR, type ContractSchema, type JsonSchema } from './json-schemas';
import { breakingChanges } from './schema-compatibility';

/**
 * The committed contract schemas (docs/contracts/) as a schema registry: what `npm run
 * contracts:export` may write, and what the compatibility test asserts. Not exported from the
 * package index: the services never read files at run time.
 */
export interface RegistryCheck {
  /** Changes a version's current schema makes that its committed schema's messages would not survive. */
  breaking: string[];
  /** Versions whose current schema differs from the committed one, compatibly: export them. */
  outdated: ContractSchema[];
  /** Versions with no committed schema yet: export them. */
  missing: ContractSchema[];
  /** Committed schemas of versions the code no longer has: their messages could not be read. */
  removed: string[];
}

const SCHEMA_FILE = /^([A-Za-z]+)\.v(\d+)\.schema\.json$/;

export function checkRegistry(root: string, current: ContractSchema[] = contractSchemas()): RegistryCheck {
  const check: RegistryCheck = { breaking: [], outdated: [], missing: [], removed: [] };
  const dir = join(root, CONTRACTS_DIR);
  const committed = existsSync(dir) ? readdirSync(dir).filter((f) => SCHEMA_FILE.test(f)) : [];
  const files = new Set(current.map((c) => c.file));
  for (const f of committed) if (!files.has(`${CONTRACTS_DIR}/${f}`)) check.removed.push(`${CONTRACTS_DIR}/${f}: committed, but the code has no such version`);
  for (const c of current) {
    const path = join(root, c.file);
    if (!existsSync(path)) {
      check.missing.push(c);
      continue;
    }
    const before = JSON.parse(readFileSync(path, 'utf8')) as JsonSchema;
    const problems = breakingChanges(before, c.schema);
    if (problems.length) check.breaking.push(...problems.map((p) => `${c.type} v${c.version} ${p}`));
    else if (JSON.stringify(before) !== JSON.stringify(c.schema)) check.outdated.push(c);
  }
  return check;
}
