import { readFileSync } from 'node:fs';
import type { BenchSystem, ProcessGroup, Queryable } from './system';

/** Nearest-rank percentiles of a sample; undefined for an empty one. */
export function percentiles(values: number[], ps = [50, 95, 99]): Record<string, number> | undefined {
  if (values.length === 0) return undefined;
  const sorted = Float64Array.from(values).sort();
  const out: Record<string, number> = {};
  for (const p of ps) out[`p${p}`] = round(sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]);
  out.max = round(sorted[sorted.length - 1]);
  return out;
}

export const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
const ms = (column: string) => `(extract(epoch from ${column}) * 1000)::float8`;

/** One phase's orders in Order's database: counts, and the saga's times from the rows' own timestamps. */
export async function sagaFigures(db: Queryable, customerPrefix: string) {
  const { rows } = await db.query(`SELECT status, ${ms('created_at')} AS placed, ${ms('completed_at')} AS done FROM orders WHERE customer_id LIKE $1`, [
    `${customerPrefix}%`,
  ]);
  const terminal = rows.filter((r) => r.status === 'CONFIRMED' || r.status === 'CANCELLED');
  const byStatus: Record<string, number> = {};
  for (const r of rows) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
  const first = rows.reduce((m, r) => Math.min(m, Number(r.placed)), Infinity);
  const last = terminal.reduce((m, r) => Math.max(m, Number(r.done)), -Infinity);
  const spanS = terminal.length > 0 ? (last - first) / 1000 : 0;
  return {
    orders: rows.length,
    terminal: terminal.length,
    byStatus,
    spanS: round(spanS, 2),
    sagasPerS: spanS > 0 ? round(terminal.length / spanS) : 0,
    latencyMs: percentiles(terminal.map((r) => Number(r.done) - Number(r.placed))),
  };
}

export async function nonTerminal(db: Queryable, customerPrefix: string): Promise<number> {
  const { rows } = await db.query(`SELECT count(*)::int AS n FROM orders WHERE customer_id LIKE $1 AND status NOT IN ('CONFIRMED', 'CANCELLED')`, [
    `${customerPrefix}%`,
  ]);
  return rows[0].n;
}

export async function outboxBacklog(db: Queryable): Promise<{ bus: number; stream: number }> {
  const { rows } = await db.query(
    `SELECT count(*) FILTER (WHERE published_at IS NULL)::int AS bus, count(*) FILTER (WHERE streamed_at IS NULL)::int AS stream FROM outbox_messages`,
  );
  return rows[0];
}

export interface Seeded {
  customerPrefix: string;
  skuPrefix: string;
  /** Cents. */
  balances: Map<string, number>;
  stock: Map<string, number>;
}

/**
 * After the run: every accepted order exists (and no more than were requested) and is terminal; for each customer the balance is
 * the initial one minus the CONFIRMED orders' totals; for each SKU the available stock is the
 * initial minus the CONFIRMED quantities, and exactly those are reserved. Returns the problems.
 */
export async function conservationProblems(system: BenchSystem, seeded: Seeded, http: { accepted: number; sent: number }): Promise<string[]> {
  const problems: string[] = [];
  const { order, payment, inventory } = system.db;
  const like = [`${seeded.customerPrefix}%`];
  const counts = (
    await order.query(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE status NOT IN ('CONFIRMED', 'CANCELLED'))::int AS open FROM orders WHERE customer_id LIKE $1`,
      like,
    )
  ).rows[0];
  // A request still in flight when the load generator stopped has no recorded answer: its order
  // may exist. None may be missing for a 202, and none may exist beyond what was sent.
  if (counts.n < http.accepted) problems.push(`${http.accepted} orders were accepted (202) but Order's database holds only ${counts.n}: orders lost`);
  if (counts.n > http.sent) problems.push(`Order's database holds ${counts.n} orders for ${http.sent} requests: orders doubled`);
  if (counts.open > 0) problems.push(`${counts.open} orders are not terminal`);

  const spent = new Map<string, number>(
    (
      await order.query(
        `SELECT customer_id, sum(total)::float8 AS cents FROM orders WHERE customer_id LIKE $1 AND status = 'CONFIRMED' GROUP BY customer_id`,
        like,
      )
    ).rows.map((r) => [r.customer_id, Number(r.cents)]),
  );
  const taken = new Map<string, number>(
    (
      await order.query(
        `SELECT line->>'sku' AS sku, sum((line->>'quantity')::int)::int AS quantity
           FROM orders CROSS JOIN LATERAL jsonb_array_elements(items::jsonb) AS line
          WHERE customer_id LIKE $1 AND status = 'CONFIRMED' GROUP BY line->>'sku'`,
        like,
      )
    ).rows.map((r) => [r.sku, r.quantity]),
  );
  const balances = new Map<string, number>(
    (await payment.query(`SELECT customer_id, balance::float8 AS cents FROM accounts WHERE customer_id LIKE $1`, like)).rows.map((r) => [
      r.customer_id,
      Number(r.cents),
    ]),
  );
  for (const [customer, initial] of seeded.balances) {
    const expected = initial - (spent.get(customer) ?? 0);
    if (balances.get(customer) !== expected) problems.push(`money: ${customer} has ${balances.get(customer)} cents, expected ${expected}`);
  }
  const stock = new Map<string, { available: number; reserved: number }>(
    (await inventory.query(`SELECT sku, available, reserved FROM stock WHERE sku LIKE $1`, [`${seeded.skuPrefix}%`])).rows.map((r) => [
      r.sku,
      { available: r.available, reserved: r.reserved },
    ]),
  );
  for (const [sku, initial] of seeded.stock) {
    const s = stock.get(sku);
    const t = taken.get(sku) ?? 0;
    if (!s || s.available !== initial - t || s.reserved !== t)
      problems.push(`stock: ${sku} is ${JSON.stringify(s)}, expected available ${initial - t}, reserved ${t}`);
  }
  return problems.slice(0, 20);
}

/** Cumulative CPU time (user + system) of a process, in seconds; undefined once it is gone. */
function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat (11 and 12 after the command name).
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}
const CLOCK_TICKS = 100;

function peakRssMb(pid: number): number | undefined {
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? round(Number(kb) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

export type CpuSnapshot = Map<string, Map<number, number>>;

export function snapshotCpu(groups: ProcessGroup[]): CpuSnapshot {
  return new Map(groups.map((g) => [g.name, new Map(g.pids.map((pid) => [pid, cpuSeconds(pid) ?? 0]))]));
}

/**
 * CPU seconds each group used between two snapshots (a process that appeared meanwhile counts
 * from its start), and the peak RSS of its largest process.
 */
export function cpuBetween(before: CpuSnapshot, groups: ProcessGroup[]): Array<{ name: string; cpuS: number; peakRssMb?: number }> {
  return groups.map((g) => {
    const start = before.get(g.name) ?? new Map<number, number>();
    let cpu = 0;
    let peak: number | undefined;
    for (const pid of g.pids) {
      const now = cpuSeconds(pid);
      if (now !== undefined) cpu += now - (start.get(pid) ?? 0);
      const rss = peakRssMb(pid);
      if (rss !== undefined) peak = Math.max(peak ?? 0, rss);
    }
    return { name: g.name, cpuS: round(cpu, 2), peakRssMb: peak };
  });
}
