import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Link, type Span, type Tracer } from '@opentelemetry/api';
import type { Dialect, SqlDatabase, SqlSession } from '@app/persistence';
import { contextFrom, serviceTracer, tracingEnabled } from '@app/platform';
import type { OutgoingMessage, Publisher } from './transport';

/**
 * The spans a message's way through a service adds besides its consumer's `process` span
 * (consumer.ts): the outbox's `send` of it to each broker, and the database work done for it.
 * Each is the child of the trace that caused it, never a trace of its own: work no trace asked
 * for (a sweep of untraced rows, a clean-up) is not traced. All of it is a no-op while tracing
 * is off.
 */

/** A batch span links to at most this many traces (as Analytics' `process events`). */
const MAX_LINKS = 128;

/**
 * One `send <destination>` span per traced message of a publish, the child of the span that
 * wrote the message (its envelope's traceparent), ended when the broker has confirmed the batch
 * or refused it: how long the message took to leave, outbox included, is the gap from its
 * parent to this span's end.
 */
export function startSendSpans(service: string, publisher: Publisher, messages: readonly OutgoingMessage[], swept: boolean): Span[] | undefined {
  if (!tracingEnabled() || !publisher.destinationOf) return undefined;
  const tracer = serviceTracer(service);
  const spans: Span[] = [];
  for (const m of messages) {
    if (!m.envelope.traceparent) continue;
    const destination = publisher.destinationOf(m);
    spans.push(
      tracer.startSpan(
        `send ${destination.name}`,
        {
          kind: SpanKind.PRODUCER,
          attributes: {
            'messaging.system': destination.system,
            'messaging.destination.name': destination.name,
            'messaging.operation.type': 'send',
            'messaging.operation.name': 'send',
            'messaging.message.id': m.envelope.messageId,
            'messaging.message.conversation_id': m.envelope.correlationId,
            'messaging.batch.message_count': messages.length,
            ...(destination.system === 'rabbitmq' ? { 'messaging.rabbitmq.destination.routing_key': m.routingKey } : {}),
            // Sent by the sweeper: the live publish after the commit did not happen (a crash, an outage).
            'saga.outbox.swept': swept,
          },
        },
        contextFrom(m.envelope.traceparent, ROOT_CONTEXT),
      ),
    );
  }
  return spans;
}

export function endSpans(spans: Span[] | undefined, error?: unknown): void {
  if (!spans) return;
  for (const span of spans) {
    if (error !== undefined) failed(span, error);
    span.end();
  }
}

/**
 * Runs database work in a span `name` (kind client), with a child span per statement (`INSERT
 * outbox_messages`, with the statement's parameterized text, never its values). The span is the
 * child of the one trace it serves (a consumer's batch of one message, a request), or links to
 * each when a batch serves several (group commit). Work that serves no trace runs untraced.
 */
export async function inDatabaseSpan<T>(
  service: string | undefined,
  name: string,
  db: SqlDatabase,
  causes: ReadonlyArray<string | undefined>,
  work: (db: SqlDatabase) => Promise<T>,
): Promise<T> {
  if (!service || !tracingEnabled()) return work(db);
  const parents = [...new Set(causes.filter((c): c is string => !!c))];
  if (parents.length === 0) return work(db);
  const tracer = serviceTracer(service);
  const contexts = parents.map((p) => contextFrom(p, ROOT_CONTEXT));
  const links: Link[] =
    parents.length > 1
      ? contexts
          .slice(0, MAX_LINKS)
          .map((c) => trace.getSpanContext(c))
          .filter((c) => c !== undefined)
          .map((context) => ({ context }))
      : [];
  const system = systemOf(db.dialect);
  const span = tracer.startSpan(
    name,
    { kind: SpanKind.CLIENT, links, attributes: { 'db.system.name': system, 'saga.batch.size': causes.length } },
    parents.length === 1 ? contexts[0] : ROOT_CONTEXT,
  );
  const parent = trace.setSpan(ROOT_CONTEXT, span);
  let statements = 0;
  const traced = (session: SqlSession): SqlSession => ({
    dialect: session.dialect,
    query: (text, params, options) => {
      statements++;
      return statement(tracer, parent, system, session, text, params, options);
    },
  });
  try {
    return await work({ dialect: db.dialect, query: traced(db).query, transaction: (w) => db.transaction((session) => w(traced(session))) });
  } catch (error) {
    failed(span, error);
    throw error;
  } finally {
    span.setAttribute('saga.db.statements', statements);
    span.end();
  }
}

async function statement<R>(
  tracer: Tracer,
  parent: Context,
  system: string,
  session: SqlSession,
  text: string,
  params: readonly unknown[] | undefined,
  options: { prepare?: boolean } | undefined,
): Promise<R[]> {
  const { operation, collection } = describeStatement(text);
  const span = tracer.startSpan(
    collection ? `${operation} ${collection}` : operation,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        'db.system.name': system,
        'db.operation.name': operation,
        ...(collection ? { 'db.collection.name': collection } : {}),
        // Parameterized: the values (ids, amounts) are never in the text.
        'db.query.text': text.length > MAX_QUERY_TEXT ? `${text.slice(0, MAX_QUERY_TEXT)}…` : text,
      },
    },
    parent,
  );
  try {
    const rows = await session.query<R>(text, params, options);
    span.setAttribute('db.response.returned_rows', rows.length);
    return rows;
  } catch (error) {
    failed(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/** A batch insert's text grows with its rows: the span keeps its start. */
const MAX_QUERY_TEXT = 1000;

/** The statement's operation and the table it writes (else reads), for the span's name: `INSERT outbox_messages`. */
export function describeStatement(text: string): { operation: string; collection?: string } {
  const sql = text.replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, ' ');
  // UPDATE as a statement, not a lock (`FOR UPDATE`) or an upsert's branch (`DO UPDATE`).
  const write = /\b(INSERT\s+INTO|(?<!\b(?:FOR|DO)\s+)UPDATE|DELETE\s+FROM|MERGE(?:\s+INTO)?)\s+([\w."[\]]+)/i.exec(sql);
  if (write) return { operation: write[1]!.split(/\s+/)[0]!.toUpperCase(), collection: tableName(write[2]!) };
  // The first FROM that names a table, not a function (`FROM unnest($1::text[])`).
  const read = /\bSELECT\b[\s\S]*?\bFROM\s+([\w."[\]]+)(?![\w."[\]]|\s*\()/i.exec(sql);
  const first = /^\s*(\w+)/.exec(sql)?.[1]?.toUpperCase() ?? 'QUERY';
  return read && !read[1]!.startsWith('(') ? { operation: 'SELECT', collection: tableName(read[1]!) } : { operation: first };
}

/** `"schema"."table"`, `[dbo].[table]`, `schema.table` → `table`. */
const tableName = (name: string) =>
  name
    .replace(/["[\]]/g, '')
    .split('.')
    .pop()!;

function systemOf(dialect: Dialect): string {
  return dialect === 'postgres' ? 'postgresql' : 'microsoft.sql_server';
}

function failed(span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}
