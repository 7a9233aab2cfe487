import type { LoggerService } from '@nestjs/common';
import { isSpanContextValid, trace } from '@opentelemetry/api';
import * as winston from 'winston';
import { currentLogContext } from './log-context';

export interface Logger {
  debug(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
  child(meta: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  service: string;
  level?: string;
  /** `json` for machines (production), `pretty` for a terminal. */
  format?: 'json' | 'pretty';
}

/**
 * The log context's ids on every line, and the trace it belongs to as `trace_id` / `span_id`
 * (OpenTelemetry's log field names, so a log backend links a line to its trace): a message's
 * consumer span when the line is logged while handling one, else the active span (an HTTP
 * request's). Nothing while tracing is off: then neither exists.
 */
export const addContext = winston.format((info) => {
  const { traceId, spanId, ...ctx } = currentLogContext();
  for (const [k, v] of Object.entries(ctx)) {
    if (v !== undefined && info[k] === undefined) info[k] = v;
  }
  if (info.trace_id === undefined) {
    const active = trace.getActiveSpan()?.spanContext();
    const ids = traceId && spanId ? { traceId, spanId } : active && isSpanContextValid(active) ? active : undefined;
    if (ids) {
      info.trace_id = ids.traceId;
      info.span_id = ids.spanId;
    }
  }
  return info;
});

const pretty = winston.format.printf((info) => {
  const { level, message, timestamp, service, correlationId, messageId, ...rest } = info as Record<string, unknown>;
  const ids = [correlationId ? `corr=${String(correlationId).slice(0, 8)}` : '', messageId ? `msg=${String(messageId).slice(0, 8)}` : '']
    .filter(Boolean)
    .join(' ');
  delete rest.causationId;
  delete rest.messageType;
  // A terminal shows the short trace id (enough to find it in a trace backend), not the span's.
  const traceId = rest.trace_id ? ` trace=${String(rest.trace_id).slice(0, 8)}` : '';
  delete rest.trace_id;
  delete rest.span_id;
  const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
  return `${String(timestamp).slice(11, 23)} ${level} [${String(service)}]${ids ? ` ${ids}` : ''}${traceId} ${String(message)}${extra}`;
});

let root: winston.Logger | undefined;

function rootLogger(options: LoggerOptions): winston.Logger {
  if (root) return root;
  const envFormat = process.env.LOG_FORMAT === 'json' || process.env.LOG_FORMAT === 'pretty' ? process.env.LOG_FORMAT : undefined;
  const format = options.format ?? envFormat ?? (process.env.NODE_ENV === 'production' ? 'json' : 'pretty');
  root = winston.createLogger({
    level: options.level ?? (process.env.LOG_LEVEL && process.env.LOG_LEVEL !== 'silent' ? process.env.LOG_LEVEL : 'info'),
    format: winston.format.combine(
      addContext(),
      winston.format.timestamp(),
      winston.format.errors({ stack: true }),
      format === 'json' ? winston.format.json() : winston.format.combine(winston.format.colorize(), pretty),
    ),
    transports: [new winston.transports.Console({ stderrLevels: ['error'], silent: process.env.LOG_LEVEL === 'silent' })],
  });
  return root;
}

class WinstonLogger implements Logger {
  constructor(private readonly inner: winston.Logger) {}
  debug(message: string, meta?: Record<string, unknown>): void {
    this.inner.debug(message, meta);
  }
  info(message: string, meta?: Record<string, unknown>): void {
    this.inner.info(message, meta);
  }
  warn(message: string, meta?: Record<string, unknown>): void {
    this.inner.warn(message, meta);
  }
  error(message: string, meta?: Record<string, unknown>): void {
    this.inner.error(message, meta);
  }
  child(meta: Record<string, unknown>): Logger {
    return new WinstonLogger(this.inner.child(meta));
  }
}

/** One winston root per process; each service logs through a child carrying `service`. */
export function createLogger(options: LoggerOptions): Logger {
  return new WinstonLogger(rootLogger(options).child({ service: options.service }));
}

/** Nest's own framework logs go through the same winston pipeline. */
const chattyContexts = new Set(['RoutesResolver', 'RouterExplorer', 'InstanceLoader', 'NestFactory']);

export class NestLoggerAdapter implements LoggerService {
  constructor(private readonly logger: Logger) {}
  log(message: unknown, context?: string): void {
    if (context && chattyContexts.has(context)) this.logger.debug(String(message), { context });
    else this.logger.info(String(message), context ? { context } : undefined);
  }
  error(message: unknown, stack?: string, context?: string): void {
    this.logger.error(String(message), { ...(stack ? { stack } : {}), ...(context ? { context } : {}) });
  }
  warn(message: unknown, context?: string): void {
    this.logger.warn(String(message), context ? { context } : undefined);
  }
  debug(message: unknown, context?: string): void {
    this.logger.debug(String(message), context ? { context } : undefined);
  }
  verbose(message: unknown, context?: string): void {
    this.logger.debug(String(message), context ? { context } : undefined);
  }
}
