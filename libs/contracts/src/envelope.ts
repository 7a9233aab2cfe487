import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { contracts } from './registry';

/**
 * Every message on every transport travels in this envelope. `key` is the ordering key:
 * for saga messages it is the order id, so a broker (or Kafka partitioner) can keep one
 * order's messages in commit order, and a dead-lettered message can be traced to its saga
 * even when its payload is unreadable.
 */
export const envelopeSchema = z.object({
  messageId: z.string().min(1).max(100),
  type: z.string().min(1).max(100),
  version: z.number().int().positive(),
  occurredAt: z.string().datetime({ offset: true }),
  correlationId: z.string().min(1).max(200),
  causationId: z.string().min(1).max(200).nullable(),
  source: z.string().min(1).max(50),
  key: z.string().min(1).max(200),
  traceparent: z.string().max(200).optional(),
  payload: z.unknown(),
});

export type Envelope<P = unknown> = Omit<z.infer<typeof envelopeSchema>, 'payload'> & { payload: P };

export interface EnvelopeInit<P> {
  type: string;
  version?: number;
  payload: P;
  key: string;
  source: string;
  correlationId?: string;
  /** The message (or request) this one was caused by; its correlation id is inherited. */
  causedBy?: Pick<Envelope, 'messageId' | 'correlationId' | 'traceparent'>;
  occurredAt?: Date;
  messageId?: string;
}

export function createEnvelope<P>(init: EnvelopeInit<P>): Envelope<P> {
  return {
    messageId: init.messageId ?? randomUUID(),
    type: init.type,
    // Producers send the newest version of a contract (ADR 0010); a type without one is v1.
    version: init.version ?? contracts[init.type]?.version ?? 1,
    occurredAt: (init.occurredAt ?? new Date()).toISOString(),
    correlationId: init.causedBy?.correlationId ?? init.correlationId ?? init.key,
    causationId: init.causedBy?.messageId ?? null,
    source: init.source,
    key: init.key,
    ...(init.causedBy?.traceparent ? { traceparent: init.causedBy.traceparent } : {}),
    payload: init.payload,
  };
}
