import { logLevel, type logCreator } from 'kafkajs';
import type { Logger } from '@app/platform';

/**
 * kafkajs logs through our logger, in our format. It retries nearly everything it logs as an
 * error (connection refused while a broker restarts, a coordinator still loading), so its
 * errors and warnings are our warnings; what it cannot recover from reaches this adapter as a
 * crash or a thrown error, logged as an error there. Its info lines are our debug lines, and so
 * is its connection layer, which logs every error response and refused connection that the
 * producer, consumer and broker pool then report (and retry) once more themselves.
 */
export function kafkaLogCreator(logger: Logger): logCreator {
  return () =>
    ({ namespace, level, log }) => {
      const { message, timestamp: _timestamp, logger: _logger, ...extra } = log as { message: string; [key: string]: unknown };
      const meta: Record<string, unknown> = { namespace };
      for (const [k, v] of Object.entries(extra)) {
        // kafkajs' correlationId numbers requests on a connection; ours names a saga.
        meta[k === 'correlationId' ? 'requestId' : k] = v instanceof Error ? String(v) : v;
      }
      // We bound the idempotent producer's retries on purpose (see kafka.producer.ts).
      const deliberate = message.startsWith('Limiting retries for the idempotent producer');
      const loud = (level === logLevel.ERROR || level === logLevel.WARN) && namespace !== 'Connection' && !deliberate;
      if (loud) logger.warn(message, meta);
      else logger.debug(message, meta);
    };
}
