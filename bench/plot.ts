/**
 * `npm run bench:plot -- <report.json>... --out docs/performance/throughput-latency.svg`:
 * draws throughput and latency against offered rate from fixed-rate (sweep) reports of
 * `npm run bench`, one series per report. Plain SVG, no dependencies.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { out: { type: 'string', default: 'docs/performance/throughput-latency.svg' } } });
if (positionals.length === 0) {
  process.stderr.write('usage: npm run bench:plot -- <report.json>... [--out file.svg]\n');
  process.exit(2);
}

interface Point {
  offered: number;
  accepted: number;
  sagas: number;
  postP99: number;
  e2eP50: number;
  e2eP99: number;
}
const series = positionals.map((file) => {
  const r = JSON.parse(readFileSync(file, 'utf8'));
  const points: Point[] = r.phases
    .filter((p: any) => p.offered.rate)
    .map((p: any) => ({
      offered: p.offered.rate,
      accepted: p.http.acceptedPerS,
      sagas: p.saga.sagasPerS,
      postP99: p.http.latencyMs?.p99 ?? 0,
      e2eP50: p.saga.latencyMs?.p50 ?? 0,
      e2eP99: p.saga.latencyMs?.p99 ?? 0,
    }));
  return { name: `${r.deployment}${r.kafka ? ' (Kafka + Analytics)' : ''}`, points };
});

const W = 460;
const H = 300;
const M = { l: 60, r: 15, t: 30, b: 45 };
const colors = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd'];
const maxOffered = Math.max(...series.flatMap((s) => s.points.map((p) => p.offered)));
const x = (v: number) => M.l + (v / maxOffered) * (W - M.l - M.r);

function panel(dx: number, title: string, yLabel: string, log: boolean, lines: Array<{ label: string; dash: string; value: (p: Point) => number }>): string {
  const all = series.flatMap((s) => s.points.flatMap((p) => lines.map((l) => l.value(p)))).filter((v) => v > 0);
  const yMax = log ? 10 ** Math.ceil(Math.log10(Math.max(...all))) : Math.ceil(Math.max(maxOffered, ...all) / 50) * 50;
  const yMin = log ? 10 ** Math.floor(Math.log10(Math.min(...all))) : 0;
  const y = (v: number) =>
    log
      ? H - M.b - ((Math.log10(Math.max(v, yMin)) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * (H - M.t - M.b)
      : H - M.b - (v / yMax) * (H - M.t - M.b);
  const ticks = log ? Array.from({ length: Math.log10(yMax / yMin) + 1 }, (_, i) => yMin * 10 ** i) : Array.from({ length: 6 }, (_, i) => (yMax / 5) * i);
  let g = `<g transform="translate(${dx},0)"><text x="${W / 2}" y="18" text-anchor="middle" font-weight="bold">${title}</text>`;
  g += `<line x1="${M.l}" y1="${H - M.b}" x2="${W - M.r}" y2="${H - M.b}" stroke="#333"/><line x1="${M.l}" y1="${M.t}" x2="${M.l}" y2="${H - M.b}" stroke="#333"/>`;
  for (const t of ticks)
    g += `<line x1="${M.l}" y1="${y(t)}" x2="${W - M.r}" y2="${y(t)}" stroke="#eee"/><text x="${M.l - 6}" y="${y(t) + 4}" text-anchor="end">${t}</text>`;
  for (const v of [...new Set(series.flatMap((s) => s.points.map((p) => p.offered)))])
    g += `<text x="${x(v)}" y="${H - M.b + 16}" text-anchor="middle">${v}</text>`;
  g += `<text x="${W / 2}" y="${H - 8}" text-anchor="middle">offered orders/s</text><text transform="translate(14,${H / 2}) rotate(-90)" text-anchor="middle">${yLabel}</text>`;
  if (!log) g += `<line x1="${x(0)}" y1="${y(0)}" x2="${x(maxOffered)}" y2="${y(maxOffered)}" stroke="#aaa" stroke-dasharray="2,3"/>`;
  series.forEach((s, i) => {
    for (const l of lines) {
      const pts = s.points.map((p) => `${x(p.offered).toFixed(1)},${y(l.value(p)).toFixed(1)}`).join(' ');
      g += `<polyline fill="none" stroke="${colors[i % colors.length]}" stroke-width="2" stroke-dasharray="${l.dash}" points="${pts}"/>`;
      for (const p of s.points) g += `<circle cx="${x(p.offered).toFixed(1)}" cy="${y(l.value(p)).toFixed(1)}" r="2.5" fill="${colors[i % colors.length]}"/>`;
    }
  });
  lines.forEach(
    (l, i) =>
      (g += `<line x1="${M.l + 10}" y1="${M.t + 8 + i * 14}" x2="${M.l + 34}" y2="${M.t + 8 + i * 14}" stroke="#333" stroke-width="2" stroke-dasharray="${l.dash}"/><text x="${M.l + 40}" y="${M.t + 12 + i * 14}">${l.label}</text>`),
  );
  return `${g}</g>`;
}

const legend = series
  .map(
    (s, i) =>
      `<rect x="${20 + i * 260}" y="${H + 6}" width="12" height="12" fill="${colors[i % colors.length]}"/><text x="${38 + i * 260}" y="${H + 16}">${s.name}</text>`,
  )
  .join('');
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * W}" height="${H + 30}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="white"/>
${panel(0, 'Throughput', 'per second', false, [
  { label: 'accepted POST /api/orders', dash: '6,3', value: (p) => p.accepted },
  { label: 'completed sagas', dash: '', value: (p) => p.sagas },
])}
${panel(W, 'Latency', 'ms (log scale)', true, [
  { label: 'POST p99', dash: '2,2', value: (p) => p.postP99 },
  { label: 'end-to-end p50', dash: '', value: (p) => p.e2eP50 },
  { label: 'end-to-end p99', dash: '6,3', value: (p) => p.e2eP99 },
])}
${legend}
</svg>
`;
writeFileSync(values.out!, svg);
process.stdout.write(`wrote ${values.out}\n`);
