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

  /** Waits until two reads `settleMs` apart agree; answers that reading. */
  async quiet(settleMs = 150, timeoutMs = 30_000): Promise<Record<string, number>> {
    const end = Date.now() + timeoutMs;
    let last = JSON.stringify(await this.read());
    for (;;) {
      await new Promise((r) => setTimeout(r, settleMs));
      const now = await this.read();
      if (JSON.stringify(now) === last) return now;
      if (Date.now() > end) throw new Error('the system did not go quiet');
      last = JSON.stringify(now);
    }
  }
}
