import { z } from 'zod';
import { contracts } from './registry';

/**
 * Every contract version as JSON Schema (draft 2020-12), generated from the zod schemas the
 * consumers validate with, so the documents cannot drift from the validation. `npm run
 * contracts:export` writes them to docs/contracts/<Type>.v<version>.schema.json; the committed
 * files are the registry the compatibility check holds each version to (ADR 0010).
 */
export interface ContractSchema {
  type: string;
  version: number;
  /** Path from the repository root. */
  file: string;
  schema: JsonSchema;
}

export type JsonSchema = { [keyword: string]: unknown };

export const CONTRACTS_DIR = 'docs/contracts';

export function contractSchemaFile(type: string, version: number): string {
  return `${CONTRACTS_DIR}/${type}.v${version}.schema.json`;
}

/** The payload a producer of that version sends: the schema's input side. */
function toJsonSchema(type: string, version: number, schema: z.ZodTypeAny): JsonSchema {
  const json = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'throw' }) as JsonSchema;
  return { ...json, $id: `urn:order-saga:contract:${type}:v${version}`, title: `${type} v${version}` };
}

export function contractSchemas(): ContractSchema[] {
  return Object.values(contracts)
    .flatMap((c) => [
      ...(c.older ?? []).map((o) => ({ type: c.type, version: o.version, schema: o.schema })),
      { type: c.type, version: c.version, schema: c.schema },
    ])
    .map(({ type, version, schema }) => ({ type, version, file: contractSchemaFile(type, version), schema: toJsonSchema(type, version, schema) }))
    .sort((a, b) => a.file.localeCompare(b.file));
}
