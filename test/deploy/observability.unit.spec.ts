/**
 * Static checks of what shows the system running (observability/): the Grafana dashboards
 * parse, and every query in them is valid PromQL by Prometheus' own grammar; compose's
 * Prometheus config passes promtool; Grafana's provisioning points at the files compose mounts
 * and at datasources that exist; k8s ships the same dashboards and scrape annotations that
 * name each pod's port. Whether the queries name metrics the services really export is
 * test/dashboards.e2e.spec.ts, against running services and a real Prometheus.
 *
 * promtool comes with Debian's prometheus package, which `npm run infra:up` installs; missing,
 * these tests fail, they never skip.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, posix, resolve } from 'node:path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { dashboards, DASHBOARDS_DIR, panelsOf, parseQuery, queries, substitute } from '../support/dashboards';

const ROOT = resolve(__dirname, '../..');
const at = (...parts: string[]) => join(ROOT, ...parts);
const TOOL_ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? ROOT };

jest.setTimeout(30_000);

function run(command: string, args: string[]) {
  const result = spawnSync(command, args, { cwd: ROOT, env: TOOL_ENV, encoding: 'utf8', maxBuffer: 32 * 1024 * 1024 });
  if (result.error) throw new Error(`${command}: ${result.error.message} (installed by npm run infra:up)`);
  return result;
}

const SERVICES = { order: 3000, payment: 3001, inventory: 3002, analytics: 3003, notification: 3005 } as const;

describe('the Grafana dashboards', () => {
  it('are found: a saga dashboard and a per-service one, with distinct uids', () => {
    const all = dashboards();
    expect(all.map((d) => d.file)).toEqual(['saga.json', 'service.json']);
    expect(new Set(all.map((d) => d.json.uid)).size).toBe(all.length);
    for (const d of all) expect(panelsOf(d).filter((p) => p.type !== 'row').length).toBeGreaterThan(10);
  });

  it('hold only valid PromQL (Prometheus grammar), each naming at least one metric', () => {
    const bad = queries()
      .map((q) => ({ ...q, parsed: parseQuery(substitute(q.expr, { service: 'order', rateInterval: '1m' })) }))
      .filter((q) => q.parsed.errors.length > 0 || q.parsed.selectors.length === 0 || q.parsed.selectors.some((s) => !s.metric));
    expect(bad.map((q) => `${q.dashboard} "${q.panel}": ${q.expr} ${q.parsed.errors.join(', ')}`)).toEqual([]);
    expect(queries().length).toBeGreaterThan(30);
  });

  it('the check can fail: a broken query is reported', () => {
    expect(parseQuery('sum by (le (rate(x[1m]))').errors).not.toEqual([]);
    expect(parseQuery('rate(saga_x_total{service="a"}[1m])')).toEqual({
      errors: [],
      selectors: [{ metric: 'saga_x_total', labels: ['service'] }],
      grouping: [],
    });
  });

  it('use only the provisioned datasources, by uid', () => {
    const provisioned = parseYaml(readFileSync(at('observability/grafana/provisioning/datasources/datasources.yml'), 'utf8')) as {
      datasources: Array<{ uid: string; type: string; url: string }>;
    };
    const uids = new Map(provisioned.datasources.map((d) => [d.uid, d.type]));
    for (const d of dashboards()) {
      for (const p of panelsOf(d)) {
        for (const ds of [p.datasource, ...(p.targets ?? []).map((t) => t.datasource)].filter(Boolean)) {
          expect({ panel: p.title, uid: ds!.uid, type: uids.get(ds!.uid) }).toEqual({ panel: p.title, uid: ds!.uid, type: ds!.type });
        }
      }
    }
  });
});

describe('observability/ in docker-compose.yml', () => {
  let services: Record<string, { volumes?: Array<string | { source?: string; target?: string }>; environment?: Record<string, string>; ports?: unknown }>;

  beforeAll(() => {
    const result = run('docker-compose', ['-f', 'docker-compose.yml', '--env-file', '.env.example', 'config']);
    if (result.status !== 0) throw new Error(`docker-compose config failed:\n${result.stderr}`);
    services = (parseYaml(result.stdout) as { services: typeof services }).services;
  });

  /** Where compose mounts a repository path inside a container. */
  const mountOf = (service: string, path: string): string | undefined => {
    for (const v of services[service]?.volumes ?? []) {
      const [source, target] = typeof v === 'string' ? v.split(':') : [v.source, v.target];
      if (source && resolve(ROOT, source) === at(path)) return target;
    }
    return undefined;
  };

  it("runs Prometheus on observability/prometheus's config, which promtool accepts", () => {
    expect(mountOf('prometheus', 'observability/prometheus')).toBe('/etc/prometheus');
    const result = run('promtool', ['check', 'config', 'observability/prometheus/prometheus.yml']);
    expect({ status: result.status, out: result.stdout + result.stderr }).toEqual({ status: 0, out: expect.stringContaining('SUCCESS') });
  });

  it('scrapes the four services on their compose ports and RabbitMQ on its plugin port', () => {
    const config = parseYaml(readFileSync(at('observability/prometheus/prometheus.yml'), 'utf8')) as {
      scrape_configs: Array<{ job_name: string; metrics_path?: string; static_configs: Array<{ targets: string[] }> }>;
    };
    const targets = config.scrape_configs.flatMap((j) => j.static_configs.flatMap((s) => s.targets));
    for (const [service, port] of Object.entries(SERVICES)) {
      expect(targets).toContain(`${service}:${port}`);
      expect(String(services[service]?.environment?.[`${service.toUpperCase()}_PORT`])).toBe(String(port));
    }
    expect(targets).toContain('rabbitmq:15692');
    expect(JSON.stringify(services.rabbitmq?.ports)).toContain('15692');
  });

  it("provisions Grafana with the dashboards compose mounts and datasources that name compose's servers", () => {
    const provisioning = mountOf('grafana', 'observability/grafana/provisioning');
    expect(provisioning).toBe('/etc/grafana/provisioning');
    const mounted = mountOf('grafana', 'observability/grafana/dashboards');
    const providers = parseYaml(readFileSync(at('observability/grafana/provisioning/dashboards/dashboards.yml'), 'utf8')) as {
      providers: Array<{ type: string; options: { path: string } }>;
    };
    expect(providers.providers.map((p) => p.options.path)).toEqual([mounted]);
    const home = services.grafana?.environment?.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH;
    expect(home && posix.dirname(home)).toBe(mounted);
    expect(existsSync(join(DASHBOARDS_DIR, posix.basename(home!)))).toBe(true);
    const datasources = parseYaml(readFileSync(at('observability/grafana/provisioning/datasources/datasources.yml'), 'utf8')) as {
      datasources: Array<{ uid: string; url: string }>;
    };
    for (const d of datasources.datasources) {
      const host = new URL(d.url).hostname;
      expect([d.uid, Object.keys(services)]).toEqual([d.uid, expect.arrayContaining([host])]);
    }
  });

  it("sends every service's traces to compose's Jaeger over OTLP/HTTP", () => {
    for (const service of Object.keys(SERVICES)) expect(services[service]?.environment?.OTEL_EXPORTER_OTLP_ENDPOINT).toBe('http://jaeger:4318');
    expect(JSON.stringify(services.jaeger?.ports)).toContain('16686');
  });
});

describe('observability/ on Kubernetes (kustomize k8s/overlays/local)', () => {
  interface K8sObject {
    kind: string;
    metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
    spec?: any; // a Deployment's spec
    data?: Record<string, string>;
  }
  let objects: K8sObject[];
  beforeAll(() => {
    const result = run('kubectl', ['kustomize', 'k8s/overlays/local']);
    if (result.status !== 0) throw new Error(`kubectl kustomize failed:\n${result.stderr}`);
    objects = parseAllDocuments(result.stdout)
      .map((d) => d.toJS())
      .filter(Boolean) as K8sObject[];
  });

  it("ships the dashboards, unchanged, as a ConfigMap labelled for Grafana's dashboard sidecar", () => {
    const maps = objects.filter((o) => o.kind === 'ConfigMap' && o.metadata.labels?.grafana_dashboard === '1');
    expect(maps.map((m) => m.metadata.name)).toEqual(['order-saga-dashboards']);
    for (const d of dashboards()) expect(maps[0]!.data?.[d.file]).toBe(readFileSync(join(DASHBOARDS_DIR, d.file), 'utf8'));
  });

  // The console too: its own HTTP metrics (compose's Prometheus does not scrape it: its dashboards are the saga's).
  it.each(Object.entries({ ...SERVICES, console: 3004 }))('annotates the %s pods for scraping on their HTTP port', (service, port) => {
    const deployment = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === service)!;
    const template = deployment.spec.template;
    expect(template.metadata.annotations).toEqual({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(port), 'prometheus.io/path': '/metrics' });
    const container = template.spec.containers.find((c: { name: string }) => c.name === service);
    expect(container.ports).toContainEqual({ name: 'http', containerPort: port });
  });
});
