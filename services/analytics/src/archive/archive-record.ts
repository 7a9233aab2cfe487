import { contracts, envelopeSchema, upcastPayload, type Envelope } from '@app/contracts';

/**
 * An event as stored (what the archive keeps, byte for byte in meaning) and as the newest
 * version of its contract (what the projection reads), or poison.
 */
export type ParsedRecord = { kind: 'event'; envelope: Envelope; newest: Envelope } | { kind: 'poison'; error: string; stack?: string };

/**
 * An event record is archived and projected only if its envelope is readable and, for a known
 * type, its payload passes its own version's contract and can be upcast to the newest (ADR 0010:
 * a v1 event in Kafka stays readable after v2 ships). Anything else is poison: it goes to the
 * retry topic, then the dead-letter topic, and never blocks its partition. A version newer
 * than this service knows is poison too, and is archived once it is replayed after the upgrade.
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
  const envelope = env.data as Envelope;
  const contract = contracts[envelope.type];
  if (!contract) return { kind: 'event', envelope, newest: envelope };
  let newest: unknown;
  try {
    newest = upcastPayload(contract, envelope.version, envelope.payload);
  } catch (error) {
    // An upcaster that throws is a bug of ours: its stack says where (the console groups by it).
    return {
      kind: 'poison',
      error: error instanceof Error ? error.message : String(error),
      ...(error instanceof Error && error.stack ? { stack: error.stack } : {}),
    };
  }
  const payload = contract.schema.safeParse(newest);
  if (!payload.success)
    return { kind: 'poison', error: `invalid ${envelope.type} payload: ${payload.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` };
  return { kind: 'event', envelope, newest: { ...envelope, version: contract.version, payload: payload.data } };
}
