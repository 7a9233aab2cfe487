#!/usr/bin/env node
import { createRequire } from 'node:module';
// `npm run start:distributed`: the five services as five processes on a real PostgreSQL (one
// database each) and RabbitMQ, and the operations console as a sixth over their URLs. Creates
// the databases if they are missing, gives every process the same admin token, prefixes each
// one's output with its name, and stops them all together.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import pg from 'pg';

const SERVICES = ['order', 'payment', 'inventory', 'analytics', 'notification'];
const DEFAULT_PORTS = { order: 3000, payment: 3001, inventory: 3002, analytics: 3003, console: 3004, notification: 3005 };
// The operations console runs beside them; it has no database, only the services' URLs.
const PROCESSES = [...SERVICES, 'console'];
const serviceUrl = (service) => `http://${process.env.HOST ?? '127.0.0.1'}:${process.env[`${service.toUpperCase()}_PORT`] ?? DEFAULT_PORTS[service]}`;
// Azurite's published development account (not a secret), from the built platform library.
const { azuriteConnectionString } = createRequire(import.meta.url)('../dist/libs/platform/src/azurite/azurite.js');
const { startSmtpSink } = createRequire(import.meta.url)('../dist/libs/platform/src/smtp/smtp-sink.js');
const pgAdminUrl = process.env.PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const say = (line) => process.stdout.write(`[distributed] ${line}\n`);

function databaseUrl(service) {
  const own = process.env[`${service.toUpperCase()}_DATABASE_URL`];
  if (own) return own;
  return `postgres://postgres@127.0.0.1:5432/saga_${service}`;
}

/** Each service migrates its own database at start, but the database itself must exist. */
async function ensureDatabases() {
  const admin = new pg.Client({ connectionString: pgAdminUrl });
  try {
    await admin.connect();
  } catch (error) {
    throw new Error(`cannot reach PostgreSQL at ${redact(pgAdminUrl)} (set PG_ADMIN_URL): ${error.message}`, { cause: error });
  }
  try {
    for (const service of SERVICES) {
      const name = decodeURIComponent(new URL(databaseUrl(service)).pathname.slice(1));
      // Only databases on the admin connection's server can be created from here.
      if (!sameServer(databaseUrl(service), pgAdminUrl)) continue;
      const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (rowCount) continue;
      await admin.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
      say(`created database ${name}`);
    }
  } finally {
    await admin.end();
  }
}

function sameServer(a, b) {
  const ua = new URL(a);
  const ub = new URL(b);
  return ua.hostname === ub.hostname && (ua.port || '5432') === (ub.port || '5432');
}

function redact(url) {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

/** The same file the embedded mode uses, so one token serves both modes; never printed. */
function adminToken() {
  if (process.env.ADMIN_TOKEN) return process.env.ADMIN_TOKEN;
  const file = join('.data', 'admin-token');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dirname(file), { recursive: true });
  const token = randomBytes(24).toString('base64url');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  say(`generated an admin token for this machine in ${file}`);
  return token;
}

async function main() {
  for (const service of PROCESSES) {
    const entry = join('dist', 'services', service, 'src', 'main.js');
    if (!existsSync(entry)) throw new Error(`${entry} is missing: run npm run build first (npm run start:distributed does)`);
  }
  await ensureDatabases();
  const token = adminToken();
  // The customers' emails: to SMTP_URL when given (Mailpit, a real server), else to an SMTP sink
  // in this launcher that keeps them (Notification's GET /api/notifications lists what was sent).
  let smtpUrl = process.env.SMTP_URL;
  if (!smtpUrl) {
    const sink = await startSmtpSink();
    smtpUrl = sink.url;
    say(`customers' emails go to an SMTP sink in this launcher at ${smtpUrl} (set SMTP_URL for Mailpit or a real server)`);
  }

  const children = new Map();
  const listening = new Map();
  let stopping = false;
  let crashed = false;

  const stopAll = (signal) => {
    if (stopping) return;
    stopping = true;
    for (const child of children.values()) if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    // A service that does not finish its graceful shutdown in time is killed.
    setTimeout(() => {
      for (const child of children.values()) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }, 15_000).unref();
  };

  for (const service of PROCESSES) {
    const portVar = `${service.toUpperCase()}_PORT`;
    const env = {
      ...process.env,
      TRANSPORT: 'rabbitmq',
      // Domain events to Kafka; the archive on Azurite's development account unless given one.
      STREAM: process.env.STREAM ?? 'kafka',
      AZURE_STORAGE_CONNECTION_STRING: process.env.AZURE_STORAGE_CONNECTION_STRING ?? azuriteConnectionString('http://127.0.0.1:10000'),
      DATABASE_URL: databaseUrl(service),
      SMTP_URL: smtpUrl,
      ADMIN_TOKEN: token,
      [portVar]: process.env[portVar] ?? String(DEFAULT_PORTS[service]),
      ...(service === 'console'
        ? Object.fromEntries(SERVICES.map((s) => [`${s.toUpperCase()}_URL`, process.env[`${s.toUpperCase()}_URL`] ?? serviceUrl(s)]))
        : {}),
    };
    // Its own process group: a Ctrl-C in the terminal reaches only this launcher, which then
    // signals each service exactly once (a second signal would cut its graceful shutdown short).
    const child = spawn(process.execPath, [join('dist', 'services', service, 'src', 'main.js')], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    children.set(service, child);
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
        process.stdout.write(`[${service}] ${line}\n`);
        const port = line.includes(`${service} listening`) && /"port":(\d+)/.exec(line)?.[1];
        if (port && !listening.has(service)) {
          listening.set(service, `http://${process.env.HOST ?? '127.0.0.1'}:${port}`);
          if (listening.size === PROCESSES.length)
            say(`order saga platform is up (distributed mode): ${PROCESSES.map((s) => `${s} ${listening.get(s)}`).join(', ')}`);
        }
      });
    }
    child.on('exit', (code, signal) => {
      const graceful = code === 0 || (stopping && signal !== null && signal !== 'SIGKILL');
      if (!graceful) {
        crashed = true;
        say(`${service} exited ${signal ? `on ${signal}` : `with code ${code}`}${stopping ? '' : '; stopping the others'}`);
      }
      // One service down means the system is down: stop the rest rather than run half of it.
      if (!stopping) stopAll('SIGTERM');
      if ([...children.values()].every((c) => c.exitCode !== null || c.signalCode !== null)) process.exit(crashed ? 1 : 0);
    });
  }

  for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => stopAll('SIGTERM'));
  // Should this launcher die some other way, it takes the services with it.
  process.on('exit', () => {
    for (const child of children.values()) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
}

main().catch((error) => {
  console.error(`[distributed] ${error instanceof Error ? error.message : error}`);
  process.exit(1);
});
