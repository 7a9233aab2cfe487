/**
 * The Grafana dashboards against the running system: after a saga run of known shape, every
 * query in observability/grafana/dashboards names only metrics and labels that the services
 * (and RabbitMQ's rabbitmq_prometheus plugin) export, and a real Prometheus, configured from
 * observability/prometheus/prometheus.yml and scraping the services, evaluates every query
 * without error and returns data for all but the ones this run gives nothing to show.
 *
 * Prometheus is Debian's package (npm run infra:up installs it); the test runs its own on a
 * free port, never the system's daemon. Missing, the test fails: it never skips.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { sleep } from '@app/platform';
import { Api, uniq } from './support/api';
import { familiesOf, parseQuery, queries, substitute, variableSources, type Query } from './support/dashboards';
import { startSystem, type SystemUnderTest } from './support/system';
import { until } from './support/wait';

jest.setTimeout(120_000);

type Service = keyof SystemUnderTest['urls'];
/** The services and the port prometheus.yml scrapes each on. */
const PORTS = { order: 3000, payment: 3001, inventory: 3002, analytics: 3003, notification: 3005 } as const;
const SERVICES = Object.keys(PORTS) as Array<keyof typeof PORTS & Service>;
const RABBITMQ_METRICS = 'http://127.0.0.1:15692';
const RABBITMQ_API = 'http://127.0.0.1:15672/api';
const rabbitAuth = { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` };
const distributed = process.env.E2E_MODE === 'distributed';

/** Queries this run has nothing to show for, and why. Any other query returning no series fails the test. */
const NOTHING_TO_SHOW: Record<string, string> = {
  'Server errors (5xx share)': 'no request fails with a 5xx here',
};
/**
 * Queries whose emptiness this run cannot decide. The embedded mode uses no RabbitMQ queue, but the
 * machine's broker is shared: another checkout's queues named after a service (or a killed run's
 * leftovers) fill the panel, so in that mode it may show data or none.
 */
const MAY_SHOW_NOTHING = distributed ? [] : ["Queue depth (RabbitMQ, the service's queues)"];

const freePort = () =>
  new Promise<number>((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });

describe('the Grafana dashboards against the running system', () => {
  let sut: SystemUnderTest;
  let prometheus: ChildProcess | undefined;
  let prometheusUrl: string;
  let dataDir: string;
  // A queue of its own, so the plugin's queue family has samples (and labels) in the embedded mode too.
  const probeQueue = uniq('dashboards-probe');

  beforeAll(async () => {
    sut = await startSystem();
    const api = new Api(sut);
    const r = await fetch(`${RABBITMQ_API}/queues/%2F/${probeQueue}`, {
      method: 'PUT',
      headers: { ...rabbitAuth, 'content-type': 'application/json' },
      body: JSON.stringify({ durable: false, auto_delete: false }),
    });
    expect(r.status).toBeLessThan(300);

    // The run: two confirmed, one declined, one out of stock, one poisoned (dead-lettered), one refused.
    const { sku, scarce, rich, poor, broken } = await api.cast();
    const ids = [
      await api.place(rich, [{ sku, quantity: 1 }]),
      await api.place(rich, [{ sku, quantity: 2 }]),
      await api.place(poor, [{ sku, quantity: 1 }]),
      await api.place(rich, [{ sku: scarce, quantity: 2 }]),
      await api.place(broken, [{ sku, quantity: 1 }]),
    ];
    expect((await api.placeOrder(rich, [])).status).toBe(400);
    const settled = await Promise.all(ids.map((id) => api.settled(id)));
    expect(settled.map((o) => o.cancellationReason)).toEqual([null, null, 'PAYMENT_DECLINED', 'OUT_OF_STOCK', 'PROCESSING_FAILED']);

    // A Prometheus of the test's own, on the shipped config with the targets moved to where this system listens.
    const config = parseYaml(readFileSync(resolve(__dirname, '../observability/prometheus/prometheus.yml'), 'utf8')) as {
      global: Record<string, string>;
      scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }>;
    };
    const where: Record<string, string> = {
      ...Object.fromEntries(SERVICES.map((s) => [`${s}:${PORTS[s]}`, new URL(sut.urls[s]).host])),
      'rabbitmq:15692': new URL(RABBITMQ_METRICS).host,
    };
    config.global.scrape_interval = '1s';
    for (const job of config.scrape_configs) {
      for (const s of job.static_configs) {
        s.targets = s.targets.map((t) => {
          if (!where[t]) throw new Error(`prometheus.yml scrapes ${t}, which this test does not know`);
          return where[t];
        });
      }
    }
    dataDir = mkdtempSync(join(tmpdir(), 'prometheus-'));
    writeFileSync(join(dataDir, 'prometheus.yml'), toYaml(config));
    const port = await freePort();
    prometheusUrl = `http://127.0.0.1:${port}`;
    // Through a shell that stops it when this process's end of stdin closes, however this process ends.
    prometheus = spawn(
      'sh',
      [
        '-c',
        'prometheus "$@" & pid=$!; cat > /dev/null; kill $pid; wait $pid',
        'sh',
        `--config.file=${join(dataDir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dataDir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=error',
      ],
      { stdio: ['pipe', 'ignore', 'inherit'] },
    );
    await until(
      async () => (await fetch(`${prometheusUrl}/-/ready`).catch(() => undefined))?.status === 200,
      Boolean,
      30_000,
      'Prometheus ready (is Debian’s prometheus package installed? npm run infra:up)',
    );
    // Every target up, with a few scrapes in hand: a rate needs two samples in its window.
    await until(
      async () => (await promql('min(count_over_time(up[1m]))'))?.[0]?.value[1],
      (n) => Number(n) >= 4,
      30_000,
      'four scrapes of every target',
    );
    const down = await promql('up == 0');
    expect(down).toEqual([]);
  });

  afterAll(async () => {
    if (prometheus) {
      const exited = new Promise((done) => prometheus!.once('exit', done));
      prometheus.stdin?.end();
      await exited;
    }
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    await fetch(`${RABBITMQ_API}/queues/%2F/${probeQueue}`, { method: 'DELETE', headers: rabbitAuth }).catch(() => undefined);
    await sut?.stop();
  });

  /** An instant query's result; throws on Prometheus' error (a bad query, a type error). */
  async function promql(query: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
    const r = await fetch(`${prometheusUrl}/api/v1/query?${new URLSearchParams({ query })}`);
    const body = (await r.json()) as { status: string; error?: string; data?: { resultType: string; result: any[] } };
    if (body.status !== 'success') throw new Error(`${query}: ${body.error}`);
    return body.data!.resultType === 'scalar' ? [{ metric: {}, value: body.data!.result as any }] : body.data!.result;
  }

  /** The query for each value of the service variable (a dashboard without it: the query as it is). */
  const instances = (q: Query) =>
    q.expr.includes('$service')
      ? SERVICES.map((service) => substitute(q.expr, { service, rateInterval: '30s' }))
      : [substitute(q.expr, { service: '', rateInterval: '30s' })];

  it('name only metrics and labels the services and RabbitMQ export', async () => {
    const texts = await Promise.all(
      [...SERVICES.map((s) => `${sut.urls[s]}/metrics`), `${RABBITMQ_METRICS}/metrics/detailed?family=queue_coarse_metrics`].map(async (u) =>
        (await fetch(u)).text(),
      ),
    );
    const families = new Map<string, Set<string>>();
    for (const text of texts) for (const [name, labels] of familiesOf(text)) families.set(name, new Set([...(families.get(name) ?? []), ...labels]));

    const problems: string[] = [];
    for (const q of queries()) {
      const parsed = parseQuery(substitute(q.expr, { service: 'order', rateInterval: '1m' }));
      const known = new Set<string>();
      for (const s of parsed.selectors) {
        const labels = families.get(s.metric);
        if (!labels) {
          problems.push(`${q.dashboard} "${q.panel}": no metric ${s.metric}`);
          continue;
        }
        labels.forEach((l) => known.add(l));
        for (const l of s.labels) if (!labels.has(l)) problems.push(`${q.dashboard} "${q.panel}": ${s.metric} has no label ${l}`);
      }
      for (const l of parsed.grouping) if (!known.has(l)) problems.push(`${q.dashboard} "${q.panel}": grouped by ${l}, which none of its metrics has`);
    }
    for (const v of variableSources())
      if (!families.get(v.metric)?.has(v.label)) problems.push(`${v.dashboard} variable ${v.variable}: no ${v.metric}{${v.label}}`);
    expect(problems).toEqual([]);
    // The check reads real families: a name the services do not export is reported.
    expect(families.has('saga_orders_completed_total')).toBe(true);
    expect(families.has('saga_orders_complete_total')).toBe(false);
  });

  it('evaluate in a real Prometheus scraping the services, with data for all but the few this run leaves empty', async () => {
    // One more scrape interval: the last counters of the run are in.
    await sleep(1500);
    const errors: string[] = [];
    const empty: string[] = [];
    for (const q of queries()) {
      let series = 0;
      for (const expr of instances(q)) {
        try {
          series += (await promql(expr)).length;
        } catch (error) {
          errors.push(`${q.dashboard} "${q.panel}": ${(error as Error).message}`);
        }
      }
      if (series === 0) empty.push(q.panel);
    }
    expect(errors).toEqual([]);
    expect([...new Set(empty)].filter((panel) => !MAY_SHOW_NOTHING.includes(panel)).sort()).toEqual(Object.keys(NOTHING_TO_SHOW).sort());
    // And what it shows is this run: the saga dashboard's outcomes add up to what the test placed.
    const completed = await promql('sum by (outcome) (saga_orders_completed_total)');
    expect(Object.fromEntries(completed.map((s) => [s.metric.outcome, Number(s.value[1])]))).toEqual({ confirmed: 2, cancelled: 3 });
  });
});
