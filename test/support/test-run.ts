import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';

/**
 * Every broker object, Kafka topic, consumer group and database a test creates carries the id of
 * its test run, so that the run's global teardown can remove whatever a failed or timed-out test
 * left behind, and the next run can remove what a killed run left. The id comes from the
 * environment (`TEST_RUN_ID`, set by jest's global setup) or is made here for a run outside jest
 * (the benchmark).
 */
export function testRunId(): string {
  process.env.TEST_RUN_ID ??= randomBytes(3).toString('hex');
  return process.env.TEST_RUN_ID;
}

const root = join(__dirname, '..', '..');
const runsDir = join(root, '.run', 'test-runs');
const recordOf = (runId: string) => join(runsDir, `${runId}.json`);

/**
 * A name for a test's broker namespace, Kafka topics or groups: `<kind>-<run id>-<random>`.
 * Creating one marks the run as one that has something to clean up.
 */
export function testName(kind: 'e2e' | 'it'): string {
  const runId = testRunId();
  const file = recordOf(runId);
  if (!existsSync(file)) {
    mkdirSync(runsDir, { recursive: true });
    writeFileSync(file, JSON.stringify({ runId, pid: process.pid, startedAt: new Date().toISOString() }));
  }
  return `${kind}-${runId}-${randomBytes(3).toString('hex')}`;
}

/** A database name of this run: `<prefix>_<run id>_<random>`. */
export function testDatabaseName(prefix: string): string {
  const [, runId, random] = testName('it').split('-');
  return `${prefix}_${runId}_${random}`;
}

const rabbitManagementUrl = () => process.env.RABBITMQ_MANAGEMENT_URL ?? 'http://guest:guest@127.0.0.1:15672';
const kafkaBrokers = () => (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const adminDatabaseUrl = () => process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** One call to RabbitMQ's management API (JSON for a GET; a DELETE of what is gone is fine). */
export async function management(path: string, method = 'GET'): Promise<unknown> {
  const url = new URL(path, rabbitManagementUrl());
  const auth = Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64');
  url.username = '';
  url.password = '';
  const r = await fetch(url, { method, headers: { authorization: `Basic ${auth}` } });
  if (method === 'DELETE' && r.status === 404) return null;
  if (!r.ok) throw new Error(`RabbitMQ management ${method} ${path}: ${r.status}`);
  return method === 'GET' ? r.json() : null;
}

/** Removes every queue, exchange, topic, group and database of one test run. */
export async function cleanTestRun(runId: string): Promise<string[]> {
  const removed = await removeTestResources([`e2e-${runId}-`, `it-${runId}-`], `%\\_${runId}\\_%`);
  rmSync(recordOf(runId), { force: true });
  return removed;
}

/**
 * Removes the queues and exchanges (RabbitMQ), topics and consumer groups (Kafka) whose names
 * start with one of `prefixes`, and the databases whose names are LIKE `databases`.
 */
export async function removeTestResources(prefixes: string[], databases?: string): Promise<string[]> {
  const mine = (name: string) => prefixes.some((p) => name.startsWith(p));
  const removed: string[] = [];
  const failures: string[] = [];
  const attempt = async (what: string, work: () => Promise<void>) => {
    try {
      await work();
    } catch (error) {
      failures.push(`${what}: ${(error as Error).message}`);
    }
  };

  await attempt('RabbitMQ', async () => {
    const queues = (await management('/api/queues?columns=name,vhost')) as Array<{ name: string; vhost: string }>;
    for (const q of queues.filter((x) => mine(x.name))) {
      await management(`/api/queues/${encodeURIComponent(q.vhost)}/${encodeURIComponent(q.name)}`, 'DELETE');
      removed.push(`queue ${q.name}`);
    }
    const exchanges = (await management('/api/exchanges?columns=name,vhost')) as Array<{ name: string; vhost: string }>;
    for (const e of exchanges.filter((x) => mine(x.name))) {
      await management(`/api/exchanges/${encodeURIComponent(e.vhost)}/${encodeURIComponent(e.name)}`, 'DELETE');
      removed.push(`exchange ${e.name}`);
    }
  });

  await attempt('Kafka', async () => {
    const admin = new Kafka({ clientId: 'test-cleanup', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING, retry: { retries: 2 } }).admin();
    await admin.connect();
    try {
      const topics = (await admin.listTopics()).filter(mine);
      if (topics.length) await admin.deleteTopics({ topics, timeout: 10_000 });
      removed.push(...topics.map((t) => `topic ${t}`));
      const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter(mine);
      if (groups.length) await admin.deleteGroups(groups).catch(() => undefined);
      removed.push(...groups.map((g) => `group ${g}`));
    } finally {
      await admin.disconnect();
    }
  });

  if (databases)
    await attempt('PostgreSQL', async () => {
      const pg = new Client({ connectionString: adminDatabaseUrl() });
      await pg.connect();
      try {
        const { rows } = await pg.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [databases]);
        for (const { datname } of rows) {
          await pg.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
          removed.push(`database ${datname}`);
        }
      } finally {
        await pg.end();
      }
    });

  if (failures.length) throw new Error(`could not remove test resources ${prefixes.join(', ')}: ${failures.join('; ')}`);
  return removed;
}

/** Runs whose record is here but whose process is gone: a killed run's leftovers. */
export function abandonedRuns(): string[] {
  if (!existsSync(runsDir)) return [];
  return readdirSync(runsDir)
    .filter((f) => f.endsWith('.json'))
    .flatMap((f) => {
      try {
        const { runId, pid } = JSON.parse(readFileSync(join(runsDir, f), 'utf8')) as { runId: string; pid: number };
        return alive(pid) ? [] : [runId];
      } catch {
        return [f.replace(/\.json$/, '')];
      }
    });
}

export function hasRecord(runId: string): boolean {
  return existsSync(recordOf(runId));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
