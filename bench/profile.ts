/**
 * `npm run bench:profile -- <dir>`: summarizes the V8 CPU profiles (`--cpu-prof`) a
 * `npm run bench -- --profile` run left, one per service process: where the CPU went by
 * package (a node_modules package, our own code by folder, Node internals, GC) and the
 * hottest functions by self time.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: npm run bench:profile -- bench/profiles/<run>\n');
  process.exit(2);
}

function bucket(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  const own = /\/dist\/(libs\/[^/]+|services\/[^/]+)\//.exec(url);
  if (own) return own[1];
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  return url;
}

for (const file of readdirSync(dir)
  .filter((f) => f.endsWith('.cpuprofile'))
  .sort()) {
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const idle = [...self].filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)').reduce((a, [, t]) => a + t, 0);
  const busy = total - idle;
  const packages = new Map<string, number>();
  const functions = new Map<string, number>();
  let service = '?';
  for (const [id, t] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    if (functionName === '(idle)') continue;
    const b = bucket(url, functionName);
    packages.set(b, (packages.get(b) ?? 0) + t);
    const key = `${functionName || '(anonymous)'} ${b}${url && !url.startsWith('node:') ? `:${lineNumber + 1}` : ''}`;
    functions.set(key, (functions.get(key) ?? 0) + t);
    const s = /\/dist\/services\/([^/]+)\//.exec(url)?.[1];
    if (s) service = s;
  }
  const top = (m: Map<string, number>, n: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, t]) => `  ${((t / busy) * 100).toFixed(1).padStart(5)}%  ${k}`)
      .join('\n');
  process.stdout.write(
    `\n== ${service} (${file}): ${(busy / 1e6).toFixed(2)} s busy of ${(total / 1e6).toFixed(2)} s\nby package:\n${top(packages, 15)}\nhottest functions (self time):\n${top(functions, 20)}\n`,
  );
}
