import type { z } from 'zod';
import type { Envelope } from './envelope';
import type { MessageContract } from './registry';

/** A validated message of a contract: its envelope, its payload typed, its type the literal. */
export type MessageOf<C extends MessageContract> = C extends MessageContract ? Omit<Envelope<z.output<C['schema']>>, 'type'> & { type: C['type'] } : never;
