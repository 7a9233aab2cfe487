/**
 * Static checks of the deployment files: Dockerfile, .dockerignore, docker-compose.yml,
 * .env.example and the kustomize tree under k8s/. No Docker engine or cluster is needed (none
 * exists on CI): the Dockerfile is linted and parsed, Compose and kustomize render their files,
 * and every rendered Kubernetes object is validated against the API schema.
 *
 * A missing tool fails these tests; it never skips them. .ci/run installs docker-compose (1.29)
 * from Debian; kubectl (1.32, kustomize v5) comes with the machine image. Debian's own
 * kubernetes-client (kubectl 1.20, kustomize v2) is too old for k8s/.
 *
 *   node --experimental-vm-modules --no-warnings=ExperimentalWarning node_modules/jest/bin/jest.js \
 *     --selectProjects unit --testPathPattern deploy
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { builtinModules } from 'node:module';
import type { AddressInfo } from 'node:net';
import { isAbsolute, join, posix, relative, resolve } from 'node:path';
import { validate as lintDockerfile } from 'dockerfile-utils';
import { parse as parseYaml, parseAllDocuments } from 'yaml';

const ROOT = resolve(__dirname, '../..');
const at = (...parts: string[]) => join(ROOT, ...parts);
const read = (...parts: string[]) => readFileSync(at(...parts), 'utf8');

jest.setTimeout(30_000);

// ------------------------------------------------------------------ tools and repository facts

/** A clean environment: the developer's or CI's own variables must not change what renders. */
const TOOL_ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? ROOT };

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], input?: string): Run {
  const result = spawnSync(command, args, { cwd: ROOT, env: TOOL_ENV, input, encoding: 'utf8', maxBuffer: 32 * 1024 * 1024 });
  if (result.error) {
    const hint = (result.error as NodeJS.ErrnoException).code === 'ENOENT' ? ` (${command} is not installed: see the top of this file)` : '';
    throw new Error(`${command} ${args.join(' ')}: ${result.error.message}${hint}`);
  }
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** docker-compose 1.29 (Debian's package, what CI has), else the Compose v2 plugin. */
const compose = (() => {
  let command: [string, string[]] | undefined;
  return (args: string[]): Run => {
    if (!command) {
      const v1 = spawnSync('docker-compose', ['version'], { env: TOOL_ENV, encoding: 'utf8' });
      const v2 = v1.error ? spawnSync('docker', ['compose', 'version'], { env: TOOL_ENV, encoding: 'utf8' }) : undefined;
      if (!v1.error) command = ['docker-compose', []];
      else if (v2 && !v2.error && v2.status === 0) command = ['docker', ['compose']];
      else throw new Error('neither docker-compose nor `docker compose` is installed (apt-get install docker-compose)');
    }
    return run(command[0], [...command[1], ...args]);
  };
})();

/**
 * The services an image is built for: package.json's start:<name> scripts that run
 * dist/services/<name>, the operations console among them.
 */
const SERVICES: string[] = Object.entries(JSON.parse(read('package.json')).scripts as Record<string, string>)
  .map(([name, script]) => /^start:(\w+)$/.exec(name) && new RegExp(`node dist/services/(\\w+)/src/main\\.js$`).exec(script))
  .filter((m): m is RegExpExecArray => !!m)
  .map((m) => m[1]!)
  .filter((name) => name !== 'embedded');

/** The console has no database or broker: it calls the others over HTTP at <NAME>_URL. */
const CONSOLE = 'console';

/** The services the console calls, by the `<NAME>_URL: url(...)` settings of its config.ts. */
const CONSOLE_UPSTREAMS: string[] = [...read('services', CONSOLE, 'src', 'config.ts').matchAll(/^\s+([A-Z]+)_URL: url\(/gm)].map((m) => m[1]!.toLowerCase());

/** The console's audit log in a container: compose and k8s set CONSOLE_AUDIT_LOG to a file on a volume. */
const AUDIT_LOG = '/app/.data/console-audit.log';

/** Each service's default port, from its config.ts (`ORDER_PORT: port(3000)`). */
function servicePort(service: string): number {
  const m = new RegExp(`${service.toUpperCase()}_PORT:\\s*port\\((\\d+)\\)`).exec(read('services', service, 'src', 'config.ts'));
  if (!m) throw new Error(`no ${service.toUpperCase()}_PORT: port(...) in services/${service}/src/config.ts`);
  return Number(m[1]);
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') ? [path] : [];
  });
}

/**
 * Every environment variable the services' code reads: zod config shapes
 * (`SAGA_DEADLINE_MS: int(30_000, 1)`, the console's `ORDER_URL: url(...)`), `process.env.X`
 * and `env.X`. Tests are left out.
 */
const SERVICE_ENV: Set<string> = (() => {
  const names = new Set<string>();
  for (const file of [...sourceFiles(at('libs')), ...sourceFiles(at('services'))]) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^\s+([A-Z][A-Z0-9_]+):\s*(?:z\s*\.|port\(|int\(|bool\(|csvInts\(|url\()/gm)) names.add(m[1]!);
    for (const m of text.matchAll(/\benv\.([A-Z][A-Z0-9_]+)\b/g)) names.add(m[1]!);
    for (const m of text.matchAll(/\benv\[['"]([A-Z][A-Z0-9_]+)['"]\]/g)) names.add(m[1]!);
  }
  return names;
})();

// ------------------------------------------------------------------ Dockerfile

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

interface Stage {
  name?: string;
  base: string;
  instructions: Instruction[];
}

/** Instructions with continuation lines joined; comments and blank lines dropped. */
function parseDockerfile(text: string): { globalArgs: Instruction[]; stages: Stage[] } {
  const instructions: Instruction[] = [];
  let buffer = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (/^\s*#/.test(line) || (!buffer && !line.trim())) return;
    if (!buffer) start = i + 1;
    if (/\\\s*$/.test(line)) {
      buffer += line.replace(/\\\s*$/, ' ');
      return;
    }
    buffer += line;
    const m = /^\s*(\w+)\s*([\s\S]*)$/.exec(buffer)!;
    instructions.push({ keyword: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start });
    buffer = '';
  });
  const globalArgs: Instruction[] = [];
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const words = instruction.args.split(/\s+/).filter((w) => !w.startsWith('--'));
      const as = words.findIndex((w) => w.toUpperCase() === 'AS');
      stages.push({ base: words[0]!, name: as >= 0 ? words[as + 1] : undefined, instructions: [] });
    } else if (stages.length === 0) {
      if (instruction.keyword === 'ARG') globalArgs.push(instruction);
    } else {
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return { globalArgs, stages };
}

/** The image settings a stage ends with, following FROM <earlier stage> back to the base image. */
function effectiveSettings(stages: Stage[], name: string) {
  const chain: Stage[] = [];
  for (let stage = stages.find((s) => s.name === name); stage; stage = stages.find((s) => s.name === stage!.base)) chain.unshift(stage);
  const last = (keyword: string) =>
    chain
      .flatMap((s) => s.instructions)
      .filter((i) => i.keyword === keyword)
      .at(-1)?.args;
  const env: Record<string, string> = {};
  for (const i of chain.flatMap((s) => s.instructions).filter((i) => i.keyword === 'ENV')) {
    for (const m of i.args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) env[m[1]!] = m[2]!.replace(/^"|"$/g, '');
  }
  return {
    chain,
    user: last('USER'),
    healthcheck: last('HEALTHCHECK'),
    cmd: last('CMD'),
    stopSignal: last('STOPSIGNAL'),
    expose: chain
      .flatMap((s) => s.instructions)
      .filter((i) => i.keyword === 'EXPOSE')
      .flatMap((i) => i.args.split(/\s+/)),
    env,
  };
}

/** .dockerignore as Docker reads it: the last matching pattern wins; a pattern matching a parent directory matches. */
function dockerignore(text: string): (path: string) => boolean {
  const patterns = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = (negate ? l.slice(1) : l).replace(/^\/+|\/+$/g, '');
      let source = '';
      for (let i = 0; i < pattern.length; i++) {
        const c = pattern[i]!;
        if (c === '*' && pattern[i + 1] === '*') {
          i++;
          if (pattern[i + 1] === '/') {
            i++;
            source += '(?:.*/)?';
          } else source += '.*';
        } else if (c === '*') source += '[^/]*';
        else if (c === '?') source += '[^/]';
        else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
      }
      return { negate, regex: new RegExp(`^${source}$`) };
    });
  return (path: string) => {
    const parts = path.split('/');
    const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let excluded = false;
    for (const p of patterns) if (candidates.some((c) => p.regex.test(c))) excluded = !p.negate;
    return excluded;
  };
}

describe('Dockerfile', () => {
  const text = read('Dockerfile');
  const { globalArgs, stages } = parseDockerfile(text);
  const stageNames = new Set(stages.map((s) => s.name).filter(Boolean));

  it('knows the services from package.json', () => {
    expect([...SERVICES].sort()).toEqual(['analytics', 'console', 'inventory', 'notification', 'order', 'payment']);
    expect([...CONSOLE_UPSTREAMS].sort()).toEqual(['analytics', 'inventory', 'notification', 'order', 'payment']);
  });

  it('lints without errors (dockerfile-utils)', () => {
    // Diagnostics carry LSP severities (1 error, 2 warning, 3 information, 4 hint), not
    // dockerfile-utils' ValidationSeverity, which configures the linter.
    const ERROR = 1;
    const diagnostics = lintDockerfile(text);
    const describe = (d: (typeof diagnostics)[number]) => `line ${d.range.start.line + 1}: ${d.message}`;
    const warnings = diagnostics.filter((d) => d.severity !== ERROR);
    if (warnings.length) console.warn(`Dockerfile lint warnings:\n${warnings.map(describe).join('\n')}`);
    expect(diagnostics.filter((d) => d.severity === ERROR || d.severity === undefined).map(describe)).toEqual([]);
  });

  it('pins every base image to a tag other than latest (or a digest)', () => {
    for (const stage of stages) {
      if (stageNames.has(stage.base)) continue;
      const variable = /^\$\{?(\w+)\}?$/.exec(stage.base);
      if (variable) {
        // FROM ${SERVICE}: a build argument that names one of the stages above.
        expect(globalArgs.map((a) => a.args.split('=')[0])).toContain(variable[1]);
        for (const service of SERVICES) expect(stageNames).toContain(service);
        continue;
      }
      expect(stage.base).not.toContain('$');
      const digest = /@sha256:[0-9a-f]{64}$/.test(stage.base);
      const tag = /^[^@]+:([\w][\w.-]*)$/.exec(stage.base)?.[1];
      expect({ image: stage.base, pinned: digest || (tag !== undefined && tag !== 'latest') }).toEqual({ image: stage.base, pinned: true });
    }
  });

  it('installs with npm ci from the lockfile, production dependencies only in the runtime image', () => {
    const runs = stages
      .flatMap((s) => s.instructions)
      .filter((i) => i.keyword === 'RUN')
      .map((i) => i.args);
    expect(runs.some((r) => /\bnpm ci\b/.test(r) && !/--omit=dev/.test(r))).toBe(true);
    expect(runs.some((r) => /\bnpm ci\b.*--omit=dev/.test(r))).toBe(true);
    expect(runs.filter((r) => /\bnpm (install|i)\b/.test(r))).toEqual([]);
    expect(runs.some((r) => /\bnpm run build\b/.test(r))).toBe(true);
  });

  it.each(SERVICES)('builds %s: non-root, health check, its port, its entry point', (service) => {
    const s = effectiveSettings(stages, service);
    expect(s.chain.at(-1)?.name).toBe(service);
    expect(s.chain[0]!.base).toMatch(/^node:24[\w.-]*$/); // the Node LTS CI runs the suites on
    expect(s.user).toBeDefined();
    expect(s.user!.split(':')[0]).not.toMatch(/^(root|0)$/);
    expect(s.healthcheck).toMatch(/^(--\S+\s+)*CMD\s/);
    expect(s.stopSignal).toBe('SIGTERM');
    expect(s.env.NODE_ENV).toBe('production');
    expect(s.env.HOST).toBe('0.0.0.0');
    expect(s.env.SERVICE).toBe(service);
    expect(s.expose).toContain(String(servicePort(service)));
    // Exec form: no variables (they would not be expanded), and the file the build produces.
    const cmd = JSON.parse(s.cmd ?? 'null') as string[];
    expect(cmd).toEqual(['node', `dist/services/${service}/src/main.js`]);
    expect(existsSync(at('services', service, 'src', 'main.ts'))).toBe(true);
  });

  it("puts the console's page in the image: the build stage runs Vite into dist/console-web, which the runtime copies", () => {
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    const vite = /vite build --config (\S+)/.exec(pkg.scripts.build ?? '')?.[1];
    expect(vite).toBeDefined();
    expect(read(vite!)).toMatch(/outDir: fileURLToPath\(new URL\('\.\.\/\.\.\/\.\.\/dist\/console-web'/);
    // Every file the page is built from reaches the build context.
    const ignored = dockerignore(read('.dockerignore'));
    const web = relative(ROOT, resolve(at(vite!), '..'));
    for (const file of [
      'index.html',
      'tsconfig.json',
      relative(web, at(vite!)),
      ...readdirSync(at(web, 'src'), { recursive: true }).map((f) => join('src', String(f))),
    ])
      expect({ file, ignored: ignored(join(web, file)) }).toEqual({ file, ignored: false });
    const build = effectiveSettings(stages, 'build').chain.flatMap((st) => st.instructions);
    expect(build.some((i) => i.keyword === 'COPY' && /^services\s/.test(i.args))).toBe(true);
    expect(build.some((i) => i.keyword === 'RUN' && /\bnpm run build\b/.test(i.args))).toBe(true);
    const runtime = effectiveSettings(stages, CONSOLE).chain.flatMap((st) => st.instructions);
    expect(runtime.some((i) => i.keyword === 'COPY' && /--from=build\s+\/app\/dist\s+\.\/dist$/.test(i.args))).toBe(true);
    // The console serves it from beside its own build (dist/services/console/src/web -> dist/console-web).
    expect(read('services', CONSOLE, 'src', 'web', 'web.http.ts')).toContain("resolve(__dirname, '..', '..', '..', '..', 'console-web')");
  });

  it('copies only files that exist and that .dockerignore lets into the build context', () => {
    const ignored = dockerignore(read('.dockerignore'));
    const copies = stages.flatMap((s) => s.instructions).filter((i) => (i.keyword === 'COPY' || i.keyword === 'ADD') && !/--from=/.test(i.args));
    expect(copies.length).toBeGreaterThan(0);
    for (const copy of copies) {
      const words = copy.args.split(/\s+/).filter((w) => !w.startsWith('--'));
      for (const source of words.slice(0, -1)) {
        const path = source.replace(/\/+$/, '');
        expect({ source, exists: existsSync(at(path)) }).toEqual({ source, exists: true });
        expect({ source, ignored: ignored(path) }).toEqual({ source, ignored: false });
        if (statSync(at(path)).isDirectory()) {
          const inside = sourceFiles(at(path)).map((f) => relative(ROOT, f));
          expect(inside.filter((f) => !ignored(f)).length).toBeGreaterThan(0);
        }
      }
    }
  });

  it('keeps secrets, local state, build output and tests out of the build context', () => {
    const ignored = dockerignore(read('.dockerignore'));
    for (const path of [
      '.env',
      '.env.local',
      '.data/admin-token',
      '.git/HEAD',
      'node_modules/pg/package.json',
      'dist/services/order/src/main.js',
      '.run/azurite.pid',
      'coverage/lcov.info',
      'test/saga.e2e.spec.ts',
      'libs/messaging/src/consumer.unit.spec.ts',
      'k8s/base/kustomization.yaml',
    ]) {
      expect({ path, ignored: ignored(path) }).toEqual({ path, ignored: true });
    }
    for (const path of ['package.json', 'package-lock.json', 'tsconfig.build.json', 'libs/messaging/src/consumer.ts', 'services/order/src/main.ts']) {
      expect({ path, ignored: ignored(path) }).toEqual({ path, ignored: false });
    }
  });
});

describe('package.json, as the runtime image installs it (npm ci --omit=dev)', () => {
  const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
  const sources = [...sourceFiles(at('libs')), ...sourceFiles(at('services'))].map((f) => ({ file: relative(ROOT, f), text: readFileSync(f, 'utf8') }));

  it('lists every package the services import under dependencies, not devDependencies', () => {
    const builtins = new Set(builtinModules);
    const misplaced: string[] = [];
    const imported = new Set<string>();
    for (const { file, text } of sources) {
      // Value imports only: `import type` vanishes at compile time.
      const specifiers = [
        ...[...text.matchAll(/^(?!import type)(?:import|export)\s[^;]*?\sfrom\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!),
        ...[...text.matchAll(/^import\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!),
        ...[...text.matchAll(/\b(?:require|import)\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]!),
      ];
      for (const specifier of specifiers) {
        if (specifier.startsWith('.') || specifier.startsWith('node:') || specifier.startsWith('@app/')) continue;
        const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!;
        imported.add(name);
        if (builtins.has(name) || pkg.dependencies[name]) continue;
        misplaced.push(`${name} (${file}): ${pkg.devDependencies[name] ? 'only in devDependencies' : 'not in package.json'}`);
      }
    }
    expect(['@nestjs/common', 'typeorm', 'amqplib', 'kafkajs'].filter((name) => !imported.has(name))).toEqual([]);
    expect([...new Set(misplaced)]).toEqual([]);
  });

  it('lists the packages loaded by name at run time: the Nest HTTP adapter, the TypeORM drivers', () => {
    const implicit = ['@nestjs/platform-express', 'reflect-metadata', 'rxjs', 'pg'];
    if (sources.some(({ text }) => /type: 'mssql'/.test(text))) implicit.push('mssql');
    expect(implicit.filter((name) => !pkg.dependencies[name])).toEqual([]);
  });
});

describe('infra/docker/healthcheck.js (the image HEALTHCHECK)', () => {
  let server: Server;
  let status = 200;
  let port = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      res.statusCode = req.url === '/health/live' ? status : 404;
      res.end();
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

  const check = (env: Record<string, string>) =>
    new Promise<number>((ok) => {
      execFile(process.execPath, [at('infra', 'docker', 'healthcheck.js')], { env: { ...TOOL_ENV, ...env } }, (error) =>
        ok(error ? Number(error.code ?? 1) : 0),
      );
    });

  it('is healthy when /health/live answers 200 on <SERVICE>_PORT', async () => {
    status = 200;
    await expect(check({ SERVICE: 'payment', PAYMENT_PORT: String(port) })).resolves.toBe(0);
  });

  it.each(SERVICES)('knows %s’s default port, as its config.ts has it (no <SERVICE>_PORT set)', (service) => {
    expect(read('infra', 'docker', 'healthcheck.js')).toMatch(new RegExp(`DEFAULT_PORTS = \\{[^}]*\\b${service}: ${servicePort(service)}\\b`));
  });

  it('is unhealthy when /health/live answers otherwise, nothing listens, or SERVICE is unknown', async () => {
    status = 503;
    await expect(check({ SERVICE: 'payment', PAYMENT_PORT: String(port) })).resolves.toBe(1);
    const closed = createServer();
    await new Promise<void>((ok) => closed.listen(0, '127.0.0.1', ok));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((ok) => closed.close(() => ok()));
    await expect(check({ SERVICE: 'order', ORDER_PORT: String(closedPort) })).resolves.toBe(1);
    await expect(check({ SERVICE: 'nope' })).resolves.toBe(1);
  });
});

// ------------------------------------------------------------------ docker-compose.yml

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile?: string; args?: Record<string, string> };
  env_file?: string[];
  environment?: Record<string, string | number | null>;
  volumes?: (string | { type?: string; source?: string; target?: string })[];
  depends_on?: Record<string, { condition?: string }> | string[];
  healthcheck?: { test?: string[] | string; disable?: boolean };
  ports?: (string | { published?: number | string; target?: number })[];
  restart?: string;
}

describe('docker-compose.yml', () => {
  const files = ['-f', 'docker-compose.yml'];
  const withPostgresOverride = [...files, '-f', 'infra/docker/compose.postgres.yml'];
  let rendered: { services: Record<string, ComposeService>; volumes?: Record<string, unknown> };

  beforeAll(() => {
    const result = compose([...files, '--env-file', '.env.example', 'config']);
    if (result.status !== 0) throw new Error(`docker-compose config failed:\n${result.stderr}`);
    rendered = parseYaml(result.stdout);
  });

  it('parses with .env.example (docker-compose config -q)', () => {
    const result = compose([...files, '--env-file', '.env.example', 'config', '-q']);
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' });
  });

  it('parses with the all-PostgreSQL override (infra/docker/compose.postgres.yml)', () => {
    const result = compose([...withPostgresOverride, '--env-file', '.env.example', 'config', '-q']);
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' });
  });

  it('refuses to render without the secrets (no defaults for passwords or the admin token)', () => {
    const result = compose([...files, '--env-file', 'infra/docker/compose.postgres.yml', 'config', '-q']); // an env file that sets nothing
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/ADMIN_TOKEN|MSSQL_SA_PASSWORD|POSTGRES_PASSWORD|GRAFANA_ADMIN_PASSWORD/);
    const raw = read('docker-compose.yml') + read('infra', 'docker', 'compose.postgres.yml');
    for (const secret of ['ADMIN_TOKEN', 'MSSQL_SA_PASSWORD', 'POSTGRES_PASSWORD', 'GRAFANA_ADMIN_PASSWORD']) {
      const uses = [...raw.matchAll(new RegExp(`(?<!\\$)\\$\\{${secret}([^}]*)\\}`, 'g'))].map((m) => m[1]!);
      expect(uses.length).toBeGreaterThan(0);
      for (const use of uses) expect({ secret, use: use.slice(0, 2) }).toEqual({ secret, use: ':?' });
    }
  });

  it('references only paths that exist (build context, Dockerfile, env files, bind mounts)', () => {
    const missing: string[] = [];
    const check = (what: string, path: string) => {
      if (!existsSync(path)) missing.push(`${what}: ${path}`);
    };
    for (const [name, service] of Object.entries(rendered.services)) {
      if (service.build) {
        const context = isAbsolute(service.build.context) ? service.build.context : at(service.build.context);
        check(`${name} build.context`, context);
        check(`${name} build.dockerfile`, resolve(context, service.build.dockerfile ?? 'Dockerfile'));
      }
      for (const file of service.env_file ?? []) check(`${name} env_file`, isAbsolute(file) ? file : at(file));
      for (const volume of service.volumes ?? []) {
        const source = typeof volume === 'string' ? volume.split(':')[0]! : volume.type === 'bind' ? (volume.source ?? '') : '';
        if (source.startsWith('/') || source.startsWith('.')) check(`${name} bind mount`, isAbsolute(source) ? source : at(source));
        else if (source) expect(Object.keys(rendered.volumes ?? {})).toContain(source);
      }
    }
    expect(missing).toEqual([]);
  });

  it.each(['order', 'payment', 'inventory', 'analytics', 'notification'])('builds and wires %s', (name) => {
    const service = rendered.services[name]!;
    const port = servicePort(name);
    expect(service.build?.args?.SERVICE).toBe(name);
    expect(service.environment?.[`${name.toUpperCase()}_PORT`]?.toString()).toBe(String(port));
    expect(service.environment).toMatchObject({ HOST: '0.0.0.0', TRANSPORT: 'rabbitmq', STREAM: 'kafka' });
    expect(String(service.environment?.DATABASE_URL)).toMatch(
      name === 'order' || name === 'inventory' ? /^mssql:\/\/.+@sqlserver:1433\/saga_/ : /^postgres:\/\/.+@postgres:5432\/saga_/,
    );
    expect(String(service.environment?.KAFKA_BROKERS)).toBe('kafka:29092');
    expect(JSON.stringify(service.ports)).toContain(`${port}`);
    const dependsOn = service.depends_on as Record<string, { condition?: string }>;
    for (const server of ['rabbitmq', 'kafka', name === 'order' || name === 'inventory' ? 'sqlserver' : 'postgres']) {
      expect(dependsOn[server]?.condition).toBe('service_healthy');
    }
  });

  it('builds and wires the console: its port, the services by their compose names, the token, its audit log on a volume', () => {
    const service = rendered.services[CONSOLE]!;
    expect(service.build?.args?.SERVICE).toBe(CONSOLE);
    expect(service.environment?.CONSOLE_PORT?.toString()).toBe(String(servicePort(CONSOLE)));
    expect(JSON.stringify(service.ports)).toContain(`${servicePort(CONSOLE)}`);
    expect(service.environment).toMatchObject({ HOST: '0.0.0.0', NODE_ENV: 'production', ADMIN_TOKEN: expect.stringMatching(/.{16,}/) });
    for (const upstream of CONSOLE_UPSTREAMS) {
      expect({ upstream, url: service.environment?.[`${upstream.toUpperCase()}_URL`] }).toEqual({
        upstream,
        url: `http://${upstream}:${servicePort(upstream)}`,
      });
      expect(rendered.services[upstream]?.build?.args?.SERVICE).toBe(upstream);
    }
    expect(service.environment?.CONSOLE_AUDIT_LOG).toBe(AUDIT_LOG);
    const mounts = (service.volumes ?? []).map((v) => (typeof v === 'string' ? { source: v.split(':')[0], target: v.split(':')[1] } : v));
    const audit = mounts.find((v) => v.target === posix.dirname(AUDIT_LOG));
    expect(Object.keys(rendered.volumes ?? {})).toContain(audit?.source);
    // It waits for no one: a service that is down shows on its page rather than keeping it from starting.
    expect(service.depends_on ?? {}).toEqual({});
  });

  it('starts one service with only what it needs (docker compose up payment)', () => {
    const closure = (name: string, seen = new Set<string>()): Set<string> => {
      for (const dependency of Object.keys(rendered.services[name]?.depends_on ?? {})) {
        if (!seen.has(dependency)) closure(dependency, seen.add(dependency));
      }
      return seen;
    };
    expect([...closure('payment')].sort()).toEqual(['db-init-postgres', 'kafka', 'postgres', 'rabbitmq']);
    expect([...closure('analytics')].sort()).toEqual(['azurite', 'db-init-postgres', 'kafka', 'postgres', 'rabbitmq']);
    expect([...closure('order')].sort()).toEqual(['db-init-sqlserver', 'kafka', 'rabbitmq', 'sqlserver']);
    expect([...closure('notification')].sort()).toEqual(['db-init-postgres', 'kafka', 'mailpit', 'postgres', 'rabbitmq']);
    expect([...closure(CONSOLE)]).toEqual([]);
  });

  it('waits only on what can report: healthy needs a health check, completed needs a one-shot job', () => {
    for (const [name, service] of Object.entries(rendered.services)) {
      for (const [target, { condition }] of Object.entries((service.depends_on ?? {}) as Record<string, { condition?: string }>)) {
        const dependency = rendered.services[target]!;
        expect({ name, target, condition }).toEqual({ name, target, condition: expect.stringMatching(/^service_(healthy|completed_successfully)$/) });
        if (condition === 'service_healthy')
          expect({ target, healthcheck: !!dependency.healthcheck && !dependency.healthcheck.disable }).toEqual({ target, healthcheck: true });
        if (condition === 'service_completed_successfully') expect({ target, restart: dependency.restart ?? 'no' }).toEqual({ target, restart: 'no' });
      }
    }
  });

  it('has a health check on every long-running server (the services inherit the image HEALTHCHECK)', () => {
    for (const [name, service] of Object.entries(rendered.services)) {
      if (service.build || service.restart === 'no') continue;
      expect({ name, healthcheck: !!service.healthcheck }).toEqual({ name, healthcheck: true });
    }
  });
});

// ------------------------------------------------------------------ .env.example

describe('.env.example', () => {
  const text = read('.env.example');
  const listed = new Set([...text.matchAll(/^#?\s?([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]!));

  it('lists every variable the services read', () => {
    expect(SERVICE_ENV.size).toBeGreaterThan(20);
    expect([...SERVICE_ENV].filter((name) => !listed.has(name)).sort()).toEqual([]);
  });

  it('lists every variable docker-compose.yml interpolates', () => {
    const raw = read('docker-compose.yml') + read('infra', 'docker', 'compose.postgres.yml');
    const used = new Set([...raw.matchAll(/(?<!\$)\$\{([A-Z_][A-Z0-9_]*)/g)].map((m) => m[1]!));
    expect([...used].filter((name) => !listed.has(name)).sort()).toEqual([]);
  });

  it('holds obvious placeholders, not secrets', () => {
    for (const name of ['ADMIN_TOKEN', 'MSSQL_SA_PASSWORD', 'POSTGRES_PASSWORD']) {
      const value = new RegExp(`^${name}=(.*)$`, 'm').exec(text)?.[1] ?? '';
      expect({ name, value }).toEqual({ name, value: expect.stringMatching(/replace/i) });
    }
    expect(new RegExp('^ADMIN_TOKEN=(.{16,})$', 'm').test(text)).toBe(true); // the services' minimum
  });
});

// ------------------------------------------------------------------ Kubernetes (kustomize)

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: any; // any Kubernetes object's spec
  data?: Record<string, string>;
}

function kustomize(dir: string): K8sObject[] {
  const result = run('kubectl', ['kustomize', dir]);
  if (result.status !== 0) throw new Error(`kubectl kustomize ${dir} failed:\n${result.stderr}`);
  return parseAllDocuments(result.stdout)
    .map((d) => d.toJS())
    .filter(Boolean) as K8sObject[];
}

const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'Job', 'DaemonSet']);
const matches = (selector: Record<string, string>, labels: Record<string, string> = {}) => Object.entries(selector).every(([k, v]) => labels[k] === v);

describe('kubectl', () => {
  it('has kustomize v4 or later built in (the labels/replicas/generator options used under k8s/)', () => {
    // Debian's kubernetes-client is kubectl 1.20 with kustomize v2, which cannot read these files.
    const result = run('kubectl', ['version', '--client']);
    const version = /Kustomize Version: v(\d+)/.exec(result.stdout)?.[1];
    expect({ kustomize: Number(version ?? 0) >= 4, output: result.stdout.trim() }).toEqual({ kustomize: true, output: result.stdout.trim() });
  });
});

describe.each(['k8s/base', 'k8s/overlays/local'])('kustomize %s', (dir) => {
  let objects: K8sObject[];
  beforeAll(() => {
    objects = kustomize(dir);
  });
  const of = (kind: string) => objects.filter((o) => o.kind === kind);
  /** What a Deployment's first container gets through envFrom, Secrets decoded. */
  const envOf = (d: K8sObject) => {
    const env: Record<string, string> = {};
    for (const from of d.spec.template.spec.containers[0].envFrom ?? []) {
      const ref = from.configMapRef ?? from.secretRef;
      const source = objects.find((o) => o.kind === (from.configMapRef ? 'ConfigMap' : 'Secret') && o.metadata.name === ref.name)!;
      for (const [key, value] of Object.entries(source.data ?? {})) env[key] = from.configMapRef ? value : Buffer.from(value, 'base64').toString();
    }
    return env;
  };
  const podSpecs = () =>
    objects
      .filter((o) => WORKLOADS.has(o.kind))
      .map((o) => ({ ref: `${o.kind}/${o.metadata.name}`, spec: o.spec.template.spec, labels: o.spec.template.metadata?.labels }));

  it('renders objects that validate against the Kubernetes schema (kubernetes-models), with no unknown fields or kinds', () => {
    expect(objects.length).toBeGreaterThan(0);
    const result = run(process.execPath, [at('test', 'deploy', 'validate-k8s.mjs')], run('kubectl', ['kustomize', dir]).stdout);
    expect(result.stderr).toBe('');
    const reports = JSON.parse(result.stdout) as { ref: string; errors: string[] }[];
    expect(reports.length).toBe(objects.length);
    expect(reports.filter((r) => r.errors.length)).toEqual([]);
  });

  it('labels everything app.kubernetes.io/name and app.kubernetes.io/part-of=order-saga, pods too', () => {
    for (const o of objects) {
      const labels = o.metadata.labels ?? {};
      expect({ ref: `${o.kind}/${o.metadata.name}`, name: !!labels['app.kubernetes.io/name'], partOf: labels['app.kubernetes.io/part-of'] }).toEqual({
        ref: `${o.kind}/${o.metadata.name}`,
        name: true,
        partOf: 'order-saga',
      });
    }
    for (const pod of podSpecs()) {
      expect({ ref: pod.ref, partOf: pod.labels?.['app.kubernetes.io/part-of'], name: !!pod.labels?.['app.kubernetes.io/name'] }).toEqual({
        ref: pod.ref,
        partOf: 'order-saga',
        name: true,
      });
    }
  });

  it('gives every service a Deployment with probes, resources, a non-root security context and time to stop', () => {
    expect(
      of('Deployment')
        .map((d) => d.metadata.name)
        .sort(),
    ).toEqual([...SERVICES].sort());
    for (const d of of('Deployment')) {
      const pod = d.spec.template.spec;
      const port = servicePort(d.metadata.name);
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(30);
      expect(pod.securityContext?.runAsNonRoot).toBe(true);
      expect(pod.securityContext?.runAsUser).toBeGreaterThan(0);
      expect(d.spec.selector.matchLabels).toEqual(expect.objectContaining({ 'app.kubernetes.io/name': d.metadata.name }));
      expect(matches(d.spec.selector.matchLabels, d.spec.template.metadata.labels)).toBe(true);
      for (const c of pod.containers) {
        const ref = `${d.metadata.name}/${c.name}`;
        expect({ ref, ports: c.ports }).toEqual({ ref, ports: [{ name: 'http', containerPort: port }] });
        expect({ ref, readiness: c.readinessProbe?.httpGet }).toEqual({ ref, readiness: { path: '/health/ready', port: 'http' } });
        expect({ ref, liveness: c.livenessProbe?.httpGet }).toEqual({ ref, liveness: { path: '/health/live', port: 'http' } });
        expect({ ref, requests: Object.keys(c.resources?.requests ?? {}).sort(), memoryLimit: !!c.resources?.limits?.memory }).toEqual({
          ref,
          requests: ['cpu', 'memory'],
          memoryLimit: true,
        });
        expect({
          ref,
          escalation: c.securityContext?.allowPrivilegeEscalation,
          runAsNonRoot: c.securityContext?.runAsNonRoot ?? pod.securityContext?.runAsNonRoot,
        }).toEqual({ ref, escalation: false, runAsNonRoot: true });
      }
    }
  });

  it('turns off service links in every pod (a Service named order would set ORDER_PORT=tcp://...)', () => {
    for (const pod of podSpecs())
      expect({ ref: pod.ref, enableServiceLinks: pod.spec.enableServiceLinks }).toEqual({ ref: pod.ref, enableServiceLinks: false });
  });

  it('selects pods that exist: every Service and PodDisruptionBudget matches a workload', () => {
    const templates = podSpecs();
    for (const s of [...of('Service'), ...of('PodDisruptionBudget')]) {
      const selector = s.kind === 'Service' ? s.spec.selector : s.spec.selector.matchLabels;
      expect({ ref: `${s.kind}/${s.metadata.name}`, matched: templates.some((t) => matches(selector, t.labels)) }).toEqual({
        ref: `${s.kind}/${s.metadata.name}`,
        matched: true,
      });
    }
    for (const pdb of of('PodDisruptionBudget')) expect(pdb.spec.maxUnavailable ?? 0).toBeGreaterThanOrEqual(1); // a drain of one replica is never blocked
  });

  it('references only ConfigMaps and Secrets it renders, with keys the services read', () => {
    const names = new Set(objects.filter((o) => o.kind === 'ConfigMap' || o.kind === 'Secret').map((o) => `${o.kind}/${o.metadata.name}`));
    const missing: string[] = [];
    for (const pod of podSpecs()) {
      for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
        for (const from of c.envFrom ?? []) {
          if (from.configMapRef && !names.has(`ConfigMap/${from.configMapRef.name}`)) missing.push(`${pod.ref} ConfigMap/${from.configMapRef.name}`);
          if (from.secretRef && !names.has(`Secret/${from.secretRef.name}`)) missing.push(`${pod.ref} Secret/${from.secretRef.name}`);
        }
        for (const env of c.env ?? []) {
          const ref = env.valueFrom?.secretKeyRef ?? env.valueFrom?.configMapKeyRef;
          if (!ref) continue;
          const kind = env.valueFrom.secretKeyRef ? 'Secret' : 'ConfigMap';
          const target = objects.find((o) => o.kind === kind && o.metadata.name === ref.name);
          if (!target) missing.push(`${pod.ref} ${kind}/${ref.name}`);
          else if (!(ref.key in (target.data ?? {}))) missing.push(`${pod.ref} ${kind}/${ref.name} key ${ref.key}`);
        }
      }
      for (const volume of pod.spec.volumes ?? []) {
        if (volume.configMap && !names.has(`ConfigMap/${volume.configMap.name}`)) missing.push(`${pod.ref} volume ConfigMap/${volume.configMap.name}`);
      }
    }
    expect(missing).toEqual([]);

    // What the services get through envFrom must be variables they read, and each gets its own port.
    for (const d of of('Deployment')) {
      const env = envOf(d);
      expect(Object.keys(env).filter((key) => !SERVICE_ENV.has(key))).toEqual([]);
      expect(
        Object.entries(env)
          .filter(([, value]) => value === '')
          .map(([key]) => key),
      ).toEqual([]); // empty is not unset for the services
      expect(env[`${d.metadata.name.toUpperCase()}_PORT`]).toBe(String(servicePort(d.metadata.name)));
      expect(Object.keys(env)).toEqual(
        expect.arrayContaining(
          d.metadata.name === CONSOLE
            ? ['ADMIN_TOKEN', 'HOST', ...CONSOLE_UPSTREAMS.map((u) => `${u.toUpperCase()}_URL`)]
            : ['ADMIN_TOKEN', 'DATABASE_URL', 'RABBITMQ_URL', 'TRANSPORT', 'STREAM', 'KAFKA_BROKERS', 'HOST'],
        ),
      );
    }
  });

  it('runs one console, replaced rather than rolled, its audit log on a ReadWriteOnce claim, calling the services by their Service names', () => {
    const d = of('Deployment').find((o) => o.metadata.name === CONSOLE)!;
    // In-memory sessions and a file only one pod can mount (ADR 0012): two pods would not share either.
    expect({ replicas: d.spec.replicas, strategy: d.spec.strategy?.type }).toEqual({ replicas: 1, strategy: 'Recreate' });
    expect(of('PodDisruptionBudget').filter((p) => matches(p.spec.selector.matchLabels, d.spec.template.metadata.labels))).toEqual([]);
    const env = envOf(d);
    expect(env.CONSOLE_AUDIT_LOG).toBe(AUDIT_LOG);
    const pod = d.spec.template.spec;
    const mount = pod.containers[0].volumeMounts.find((m: { mountPath: string }) => m.mountPath === posix.dirname(AUDIT_LOG));
    const claimName = pod.volumes.find((v: { name: string }) => v.name === mount?.name)?.persistentVolumeClaim?.claimName;
    const claim = of('PersistentVolumeClaim').find((c) => c.metadata.name === claimName);
    expect(claim?.spec.accessModes).toEqual(['ReadWriteOnce']);
    expect(pod.securityContext.fsGroup).toBe(pod.securityContext.runAsGroup); // the volume is writable by the image's user
    for (const upstream of CONSOLE_UPSTREAMS) {
      const service = of('Service').find((o) => o.metadata.name === upstream);
      const port = servicePort(upstream);
      expect({ upstream, url: env[`${upstream.toUpperCase()}_URL`], port: service?.spec.ports[0].port }).toEqual({
        upstream,
        url: `http://${upstream}:${port}`,
        port,
      });
    }
  });

  if (dir === 'k8s/base') {
    it('ships placeholder secrets the services refuse, so a forgotten secret fails loudly', () => {
      for (const secret of of('Secret')) {
        for (const [key, value] of Object.entries(secret.data ?? {})) {
          expect({ secret: secret.metadata.name, key, value: Buffer.from(value, 'base64').toString() }).toEqual({
            secret: secret.metadata.name,
            key,
            value: 'REPLACE_ME',
          });
        }
      }
    });
  }

  if (dir === 'k8s/overlays/local') {
    it('runs one replica of each service from the local image tag, with the servers beside them', () => {
      for (const d of of('Deployment')) {
        expect({ name: d.metadata.name, replicas: d.spec.replicas, image: d.spec.template.spec.containers[0].image }).toEqual({
          name: d.metadata.name,
          replicas: 1,
          image: `order-saga/${d.metadata.name}:local`,
        });
      }
      expect(
        of('StatefulSet')
          .map((s) => s.metadata.name)
          .sort(),
      ).toEqual(['azurite', 'kafka', 'mailpit', 'postgres', 'rabbitmq', 'sqlserver']);
      expect(new Set(objects.filter((o) => o.kind !== 'Namespace').map((o) => o.metadata.namespace))).toEqual(new Set(['order-saga']));
    });

    it('creates the databases with the same SQL as docker-compose', () => {
      for (const server of ['postgres', 'sqlserver']) {
        expect(read('k8s', 'overlays', 'local', 'infra', `${server}-init-databases.sql`)).toBe(read('infra', 'docker', server, 'init-databases.sql'));
      }
    });
  }
});
