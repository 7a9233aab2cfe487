import type { Envelope } from '@app/contracts';
import type { SqlDatabase, SqlSession } from '@app/persistence';
import { activeTraceparent, tracingEnabled } from '@app/platform';
import { inDatabaseSpan } from './tracing';
import { appendToOutbox, forgetInInbox, recordInInbox, type OutboxRow } from './outbox/outbox.sql';

/** What a handler or a command gets inside its transaction. */
export interface Tx {
  readonly sql: SqlSession;
  /** Adds messages to the outbox: written in this transaction, published after its commit. */
  send(...messages: Envelope[]): void;
  /**
   * Runs `fn` once this transaction has committed, never if it rolls back (a batch that fails
   * runs again in halves): for bookkeeping outside the database, such as counting outcomes.
   */
  afterCommit(fn: () => void): void;
}

/** Where committed outbox rows go at once (the dispatcher). */
export interface Dispatch {
  dispatch(rows: OutboxRow[]): void;
}

export type Outcome = 'handled' | 'duplicate';

/** What a batch handler says of one message of its batch. */
export type MessageResult = { ok: true } | { ok: false; error: unknown };

export const handled: MessageResult = { ok: true };
export const failed = (error: unknown): MessageResult => ({ ok: false, error });

/** A message of a batch that failed: nothing of it committed, the others did. */
export class MessageFailed {
  constructor(readonly error: unknown) {}
}

/**
 * The transaction seam, which also reaches the outbox and the inbox.
 *
 * `handleBatch` is the shape of every message handler: in one transaction, record the batch's
 * messages in the inbox (a duplicate ends there), run the handler's set-based work, write its
 * outgoing messages to the outbox; commit; then hand the rows to the dispatcher, and only then
 * answer, so the consumer acks after the commit. A message the handler reports failed has its
 * inbox record taken back in the same transaction (its retry must not look like a duplicate).
 * If the work or the commit throws, nothing is kept and the batch runs again in halves, down to
 * the bad message alone, so one bad message fails by itself.
 */
export class UnitOfWork {
  constructor(
    private readonly db: SqlDatabase,
    private readonly dispatcher: Dispatch,
    /** The service whose tracer traces the transactions; without it, none is traced. */
    private readonly service?: string,
  ) {}

  get dialect() {
    return this.db.dialect;
  }

  /**
   * `work` in one transaction, its messages written to the outbox and dispatched after the
   * commit. Traced (a `transaction` span with one per statement) as part of `causes`: the
   * traces it serves, by default the active span's (an HTTP request's).
   */
  async run<T>(work: (tx: Tx) => Promise<T>, causes: ReadonlyArray<string | undefined> = tracingEnabled() ? [activeTraceparent()] : []): Promise<T> {
    let rows: OutboxRow[] = [];
    let committed: Array<() => void> | undefined;
    const traced = tracingEnabled();
    const value = await inDatabaseSpan(this.service, 'transaction', this.db, causes, (db) =>
      db.transaction(async (sql) => {
        const outgoing: Envelope[] = [];
        const result = await work({
          sql,
          send: (...messages) => void outgoing.push(...(traced ? messages.map(inTrace) : messages)),
          afterCommit: (fn) => void (committed ??= []).push(fn),
        });
        rows = await appendToOutbox(sql, outgoing);
        return result;
      }),
    );
    // Committed: published now, from memory, rather than at the next sweep.
    this.dispatcher.dispatch(rows);
    if (committed) runAfterCommit(committed);
    return value;
  }

  async handleBatch<M extends Envelope>(
    consumer: string,
    messages: M[],
    work: (tx: Tx, fresh: M[]) => Promise<MessageResult[]>,
  ): Promise<Array<Outcome | MessageFailed>> {
    try {
      return await this.attempt(consumer, messages, work);
    } catch (error) {
      if (messages.length === 1) return [new MessageFailed(error)];
      // Nothing of the batch was kept. Its halves again, first then second (arrival order
      // holds), down to the bad message alone: one poison among n costs about 2·log2(n)
      // transactions instead of n, and the others commit.
      const half = Math.ceil(messages.length / 2);
      const first = await this.handleBatch(consumer, messages.slice(0, half), work);
      return [...first, ...(await this.handleBatch(consumer, messages.slice(half), work))];
    }
  }

  private attempt<M extends Envelope>(consumer: string, messages: M[], work: (tx: Tx, fresh: M[]) => Promise<MessageResult[]>) {
    // The messages' traces (each one's consumer span), not whatever context the batch runs in.
    const causes = tracingEnabled() ? messages.map((m) => m.traceparent) : [];
    return this.run(async (tx) => {
      const isFresh = await recordInInbox(
        tx.sql,
        consumer,
        messages.map((m) => ({ messageId: m.messageId, messageType: m.type })),
      );
      const fresh = messages.filter((_, i) => isFresh[i]);
      const results = fresh.length ? await work(tx, fresh) : [];
      if (results.length !== fresh.length) throw new Error(`the handler answered ${results.length} results for ${fresh.length} messages`);
      const failures = new Map(fresh.map((m, i) => [m, results[i]] as const).filter(([, r]) => !r.ok));
      await forgetInInbox(
        tx.sql,
        consumer,
        [...failures.keys()].map((m) => m.messageId),
      );
      let next = 0;
      return messages.map((_, i): Outcome | MessageFailed => {
        if (!isFresh[i]) return 'duplicate';
        const r = results[next++];
        return r.ok ? 'handled' : new MessageFailed(r.error);
      });
    }, causes);
  }
}

/** The work is committed whatever a callback does: one that throws is reported, not propagated. */
function runAfterCommit(callbacks: Array<() => void>): void {
  for (const fn of callbacks) {
    try {
      fn();
    } catch (error) {
      process.emitWarning(`an after-commit callback failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

export const UNIT_OF_WORK = Symbol('UNIT_OF_WORK');

/**
 * A message that continues no trace (no `traceparent` from the message that caused it) joins the
 * active span's: an HTTP request's, so an order's saga is one trace from its POST. A no-op while
 * tracing is off.
 */
function inTrace(message: Envelope): Envelope {
  if (message.traceparent) return message;
  const traceparent = activeTraceparent();
  return traceparent ? { ...message, traceparent } : message;
}
