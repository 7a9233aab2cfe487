/**
 * `npm run contracts:export`: writes every contract version's JSON Schema (from the zod
 * schemas) to docs/contracts/, and refuses, writing nothing, when a version's schema changed in
 * a way its committed schema's messages would not survive: that change needs a new version with
 * an upcaster (ADR 0010).
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { format, resolveConfig } from 'prettier';
import { checkRegistry } from '@app/contracts/schema-registry';

async function main(): Promise<void> {
  const root = resolve(__dirname, '..');
  const check = checkRegistry(root);
  const refused = [...check.breaking, ...check.removed];
  if (refused.length) {
    process.stderr.write(`contracts: not backward compatible with the committed schemas:\n${refused.map((p) => `  ${p}`).join('\n')}\n`);
    process.stderr.write('Make a new version of the contract with an upcaster from this one (docs/adr/0010-contract-versions.md).\n');
    process.exit(1);
  }
  const writes = [...check.missing, ...check.outdated];
  for (const c of writes) {
    const path = join(root, c.file);
    writeFileSync(path, await format(JSON.stringify(c.schema), { ...(await resolveConfig(path)), parser: 'json' }));
  }
  process.stdout.write(`contracts: ${writes.length ? writes.map((c) => c.file).join(', ') : 'every schema is up to date'}\n`);
}

void main();
