import { AsyncLocalStorage } from 'node:async_hooks';

/** What every log line should carry when there is one: set per request and per message. */
export interface LogContext {
  correlationId?: string;
  causationId?: string | null;
  messageId?: string;
  messageType?: string;
  /** The trace and span a message is handled in (its consumer span, from the envelope's traceparent). */
  traceId?: string;
  spanId?: string;
}

const storage = new AsyncLocalStorage<LogContext>();

export function withLogContext<T>(context: LogContext, fn: () => T): T {
  return storage.run({ ...storage.getStore(), ...context }, fn);
}

export function currentLogContext(): LogContext {
  return storage.getStore() ?? {};
}
