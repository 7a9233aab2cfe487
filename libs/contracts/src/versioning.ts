import type { z } from 'zod';

/**
 * Contract versions (ADR 0010). A contract names its newest version; a breaking change makes a
 * new version and keeps the previous one here, with an upcaster from it. Consumers handle the
 * newest version only: an older message is upcast at the edge, before its payload is validated.
 */

/** An older version of a contract: its payload's schema, and how such a payload becomes the next version's. */
export interface OlderVersion {
  readonly version: number;
  readonly schema: z.ZodTypeAny;
  /** A payload of this version (validated against `schema`) as the next version's. */
  upcast(payload: never): unknown;
}

/** What upcasting needs of a contract. */
export interface Versioned {
  readonly type: string;
  readonly version: number;
  /** Older versions, each with its upcaster to the next; absent while the contract has had one version. */
  readonly older?: readonly OlderVersion[];
}

/**
 * A message of a version newer than this code knows: its producer was deployed first. Not the
 * message's fault: the consumer retries it (a rolling deployment catches up) and dead-letters it
 * only once its retries are spent, for a replay after the upgrade.
 */
export class NewerVersionError extends Error {
  override readonly name = 'NewerVersionError';
}

/** A message of an older version that cannot become the newest: no upcaster, or a payload its own version's schema refuses. */
export class NotUpcastableError extends Error {
  override readonly name = 'NotUpcastableError';
}

/** The payload of a `version` message as the contract's newest version's, through each upcaster from that version on. */
export function upcastPayload(contract: Versioned, version: number, payload: unknown): unknown {
  if (version === contract.version) return payload;
  if (version > contract.version) throw new NewerVersionError(`${contract.type} v${version} is newer than this service knows (v${contract.version})`);
  let current = payload;
  for (let v = version; v < contract.version; v++) {
    const step = contract.older?.find((o) => o.version === v);
    if (!step) throw new NotUpcastableError(`${contract.type} v${v} has no upcaster to v${v + 1}`);
    const parsed = step.schema.safeParse(current);
    if (!parsed.success)
      throw new NotUpcastableError(
        `invalid ${contract.type} v${v} payload: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
      );
    current = step.upcast(parsed.data as never);
  }
  return current;
}
