import { contracts, envelopeSchema, type Envelope } from '@app/contracts';

export type ParsedRecord = { kind: 'event'; envelope: Envelope } | { kind: 'poison'; error: string };

/**
 * An event record is archived and projected only if its envelope is readable and, for a known
 * type, its payload passes the contract. Anything else is poison: it goes to the retry topic,
 * then the dead-letter topic, and never blocks its partition.
 */
export function parseRecord(value: string): ParsedRecord {
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    return { kind: 'poison', error: 'not valid JSON' };
  }
  const env = envelopeSchema.safeParse(json);
  if (!env.success)
    return { kind: 'poison', error: `invalid envelope: ${env.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}` };
  const contract = contracts[env.data.type];
  if (contract) {
    const payload = contract.schema.safeParse(env.data.payload);
    if (!payload.success)
      return { kind: 'poison', error: `invalid ${env.data.type} payload: ${payload.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` };
  }
  return { kind: 'event', envelope: env.data as Envelope };
}
