/**
 * What the services have stored: the row count of every table of every service (outbox and
 * inbox included). A request that was refused must leave it as it was; `quiet` waits until
 * the saga's background work (messages in flight, the archive) has stopped changing it.
 * Analytics' archive manifest (`archive_*`, ADR 0008) is left out, as the blobs it describes
 * are: it follows the events already counted in the inboxes and the summary, up to a batch
 * interval later, which is longer than `quiet` waits for.
 */
export type Query = (sql: string) => Promise<Array<Record<string, unknown>>>;

export class Fingerprint {
  private tables = new Map<string, string[]>();

  /** `databases`: per service, how to query its database, and the schema its tables are in. */
  constructor(private readonly databases: Record<string, { query: Query; schema: string }>) {}

  async read(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const [service, db] of Object.entries(this.databases)) {
      let tables = this.tables.get(service);
      if (!tables) {
        const rows = await db.query(
          `SELECT table_name FROM information_schema.tables WHERE table_schema = '${db.schema}' AND table_type = 'BASE TABLE' AND table_name <> 'migrations' AND table_name NOT LIKE 'archive\\_%' ORDER BY 1`,
        );
        tables = rows.map((r) => String(r.table_name));
        this.tables.set(service, tables);
      }
      if (tables.length === 0) continue;
      const counts = await db.query(tables.map((t) => `SELECT '${t}' AS t, count(*)::int AS n FROM "${db.schema}"."${t}"`).join(' UNION ALL '));
      for (const r of counts) out[`${service}.${String(r.t)}`] = Number(r.n);
    }
    return out;
  }

  /**
   * Waits until nothing is in flight: every outbox is empty (a row leaves it once both the bus
   * and the stream have it) and two reads `settleMs` apart agree; answers that reading. The
   * settle window is longer than the longest pause between two steps of the saga's background
   * work: Analytics' Kafka fetches wait up to 200 ms for company (ADR 0007), so an event already
   * out of the outbox may be projected that much later. With a 150 ms window, a fuzz run on the
   * distributed system once saw Analytics' tables move after `quiet` had answered.
   */
  async quiet(settleMs = 400, timeoutMs = 30_000): Promise<Record<string, number>> {
    const end = Date.now() + timeoutMs;
    const inFlight = (r: Record<string, number>) => Object.entries(r).some(([table, n]) => table.endsWith('.outbox_messages') && n > 0);
    let last = JSON.stringify(await this.read());
    for (;;) {
      await new Promise((r) => setTimeout(r, settleMs));
      const now = await this.read();
      if (JSON.stringify(now) === last && !inFlight(now)) return now;
      if (Date.now() > end) throw new Error(`the system did not go quiet: ${JSON.stringify(now)}`);
      last = JSON.stringify(now);
    }
  }
}

/** The tables whose counts differ between two readings, `table: before → after`. */
export function changed(before: Record<string, number>, after: Record<string, number>): string {
  return [...new Set([...Object.keys(before), ...Object.keys(after)])]
    .filter((t) => before[t] !== after[t])
    .map((t) => `${t}: ${before[t] ?? '-'} → ${after[t] ?? '-'}`)
    .join(', ');
}
