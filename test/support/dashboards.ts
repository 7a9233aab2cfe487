import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parser } from '@prometheus-io/lezer-promql';

/** The Grafana dashboards shipped in observability/ (compose provisions them, k8s ships them as ConfigMaps). */
export const DASHBOARDS_DIR = resolve(__dirname, '../../observability/grafana/dashboards');

export interface Query {
  dashboard: string;
  panel: string;
  expr: string;
}

interface Panel {
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: Array<{ expr?: string; datasource?: { type: string; uid: string } }>;
  panels?: Panel[];
}

export interface Dashboard {
  file: string;
  json: { uid: string; title: string; panels: Panel[]; templating?: { list: Array<{ name: string; query?: unknown; datasource?: { uid: string } }> } };
}

export function dashboards(): Dashboard[] {
  return readdirSync(DASHBOARDS_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, json: JSON.parse(readFileSync(join(DASHBOARDS_DIR, file), 'utf8')) as Dashboard['json'] }));
}

/** Every panel, those inside collapsed rows too. */
export function panelsOf(d: Dashboard): Panel[] {
  const all: Panel[] = [];
  const walk = (panels: Panel[]) => {
    for (const p of panels) {
      all.push(p);
      walk(p.panels ?? []);
    }
  };
  walk(d.json.panels);
  return all;
}

/** Every PromQL expression of every dashboard: panel targets and template variable queries (`label_values(metric, label)`). */
export function queries(): Query[] {
  return dashboards().flatMap((d) => [
    ...panelsOf(d).flatMap((p) => (p.targets ?? []).filter((t) => t.expr).map((t) => ({ dashboard: d.file, panel: p.title, expr: t.expr! }))),
  ]);
}

/** The template variables' label_values(...) queries, as (metric, label). */
export function variableSources(): Array<{ dashboard: string; variable: string; metric: string; label: string }> {
  return dashboards().flatMap((d) =>
    (d.json.templating?.list ?? []).flatMap((v) => {
      const text = typeof v.query === 'string' ? v.query : (v.query as { query?: string } | undefined)?.query;
      const m = /^label_values\((\w+),\s*(\w+)\)$/.exec(text ?? '');
      return m ? [{ dashboard: d.file, variable: v.name, metric: m[1]!, label: m[2]! }] : [];
    }),
  );
}

/** Grafana's variables replaced as Grafana would before sending a query (`$service`, `$__rate_interval`). */
export function substitute(expr: string, vars: { service: string; rateInterval: string }): string {
  return expr.replaceAll('$__rate_interval', vars.rateInterval).replaceAll('$service', vars.service);
}

export interface Selector {
  metric: string;
  /** Label names the selector matches on. */
  labels: string[];
}

export interface ParsedQuery {
  /** Syntax errors: the text of each node the parser could not place. */
  errors: string[];
  selectors: Selector[];
  /** Label names of `by (...)` / `without (...)` clauses. */
  grouping: string[];
}

/** Parses with Prometheus' own PromQL grammar (@prometheus-io/lezer-promql) and lists what the expression names. */
export function parseQuery(expr: string): ParsedQuery {
  const tree = parser.parse(expr);
  const errors: string[] = [];
  const selectors: Selector[] = [];
  const grouping: string[] = [];
  const text = (from: number, to: number) => expr.slice(from, to);
  tree.iterate({
    enter(node) {
      if (node.type.isError) errors.push(`at ${node.from}: '${text(node.from, node.to + 1)}'`);
      if (node.name === 'VectorSelector') {
        const n = node.node;
        const metric = n.getChild('Identifier');
        const labels: string[] = [];
        const matchers = n.getChild('LabelMatchers');
        if (matchers) {
          const cursor = matchers.cursor();
          cursor.iterate((c) => {
            if (c.name === 'LabelName') labels.push(text(c.from, c.to));
          });
        }
        selectors.push({ metric: metric ? text(metric.from, metric.to) : '', labels });
      }
      if (node.name === 'GroupingLabels') {
        const cursor = node.node.cursor();
        cursor.iterate((c) => {
          if (c.name === 'LabelName') grouping.push(text(c.from, c.to));
        });
      }
    },
  });
  return { errors, selectors, grouping };
}

/** A Prometheus text exposition (one scrape) as families: name → the label names its samples carry. */
export function familiesOf(exposition: string): Map<string, Set<string>> {
  const families = new Map<string, Set<string>>();
  const family = (name: string) => {
    let labels = families.get(name);
    if (!labels) families.set(name, (labels = new Set()));
    return labels;
  };
  for (const line of exposition.split('\n')) {
    const type = /^# TYPE (\S+) (\w+)/.exec(line);
    if (type) {
      // A histogram's (and summary's) samples are <name>_bucket / _sum / _count; the family exists without samples too.
      const suffixes = type[2] === 'histogram' ? ['_bucket', '_sum', '_count'] : type[2] === 'summary' ? ['', '_sum', '_count'] : [''];
      for (const s of suffixes) family(type[1] + s);
      continue;
    }
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? /.exec(line);
    if (!m) continue;
    const labels = family(m[1]!);
    for (const l of (m[2] ?? '').matchAll(/(\w+)="(?:[^"\\]|\\.)*"/g)) labels.add(l[1]!);
  }
  return families;
}
