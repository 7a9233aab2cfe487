import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startAzurite, startSmtpSink, type EmbeddedAzurite, type SmtpSink, sleep } from '@app/platform';
import { createTestDatabase } from './postgres';
import { removeTestResources, testName } from './test-run';

export const SERVICES = ['order', 'payment', 'inventory', 'analytics', 'notification'] as const;
export type ServiceName = (typeof SERVICES)[number];

export interface DistributedSystem {
  urls: Record<ServiceName, string>;
  adminToken: string;
  /** Prefix of this system's exchange and queues on the broker, and of its Kafka topics and groups. */
  namespace: string;
  /** The analytics archive: Azurite in the test process, one container per system. */
  blobConnectionString: string;
  archiveContainer: string;
  /** Where Notification sends the customers' emails: an SMTP sink in the test process (unless SMTP_URL names a server). */
  smtp?: SmtpSink;
  /** Sends a signal to one service and waits until it has exited. */
  kill(service: ServiceName, signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Starts an exited service again with the same environment (plus `env`) and database; `urls` follows its new port. */
  restart(service: ServiceName, env?: NodeJS.ProcessEnv): Promise<string>;
  /** Resolves when the service's current process exits (for whatever reason). */
  exited(service: ServiceName): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Each service's database (PostgreSQL URL). */
  databaseUrls: Record<ServiceName, string>;
  /** The process id of each running service. */
  pids(): Partial<Record<ServiceName, number>>;
  /** The last lines a service wrote (stdout and stderr), across its restarts. */
  logs(service: ServiceName, lines?: number): string[];
  /**
   * Starts one more instance of a service: the same environment, database and queues (a
   * replica, as Kubernetes runs them). It is stopped with the system.
   */
  addInstance(service: ServiceName, env?: NodeJS.ProcessEnv): Promise<ServiceInstance>;
  /** Exits nobody asked for (not `kill`, `stop` or the instance's own `kill`), in order. */
  unexpectedExits(): Array<{ service: ServiceName; pid?: number; exit: string; at: string }>;
  stop(): Promise<void>;
}

/** One more instance of a service (see addInstance). */
export interface ServiceInstance {
  url: string;
  pid: number;
  logs(lines?: number): string[];
  /** Sends a signal and waits until it has exited (an exit the test caused). */
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when it exits, for whatever reason. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<void>;
}

const root = join(__dirname, '..', '..');
const entry = (service: ServiceName, from = root) => join(from, 'dist', 'services', service, 'src', 'main.js');
const watchdog = join(__dirname, 'die-with-parent.cjs');
const rabbitmqUrl = () => process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const kafkaBrokers = () => process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const STARTUP_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 15_000;
const TAIL_LINES = 80;

type Exit = { code: number | null; signal: NodeJS.Signals | null };

/** One running service process, its output kept in a ring buffer for diagnosis. */
class ServiceProcess {
  readonly exited: Promise<Exit>;
  /** Set before any exit this harness causes; any other exit is reported with the log tail. */
  expectedExit = false;
  private readonly child: ChildProcess;
  /** From this process's own "listening" line (the output buffer also holds earlier runs'). */
  private port?: number;

  constructor(
    readonly service: ServiceName,
    env: NodeJS.ProcessEnv,
    output: string[],
    onUnexpectedExit: (p: ServiceProcess, exit: Exit) => void,
    nodeArgs: string[] = [],
    from = root,
  ) {
    // stdin stays a pipe so the watchdog sees this process disappear (see die-with-parent.cjs).
    this.child = spawn(process.execPath, [...nodeArgs, '--require', watchdog, entry(service, from)], { cwd: from, env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    void this.exited.then((exit) => {
      if (!this.expectedExit) onUnexpectedExit(this, exit);
    });
    const verbose = ['1', 'true'].includes(process.env.E2E_VERBOSE ?? '');
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
        output.push(line);
        this.port ??= listeningPort(line, service);
        if (output.length > 2000) output.splice(0, output.length - 1000);
        if (verbose) process.stderr.write(`[${service}] ${line}\n`);
      });
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** It has said it is listening (before that, a failure is reported as a failed start). */
  get started(): boolean {
    return this.port !== undefined;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** The port from the service's JSON "<name> listening" line (bootstrap.ts). */
  async listening(): Promise<number> {
    const deadline = Date.now() + STARTUP_TIMEOUT_MS;
    for (;;) {
      if (this.port !== undefined) return this.port;
      if (!this.running)
        throw new Error(`${this.service} exited before it was listening (${describeExit({ code: this.child.exitCode, signal: this.child.signalCode })})`);
      if (Date.now() > deadline) throw new Error(`${this.service} was not listening within ${STARTUP_TIMEOUT_MS / 1000} s`);
      await sleep(25);
    }
  }

  /** SIGTERM, then SIGKILL after the grace period; resolves with how it ended. */
  async stop(): Promise<Exit & { killed: boolean }> {
    this.expectedExit = true;
    if (!this.running) return { ...(await this.exited), killed: false };
    this.signal('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), STOP_GRACE_MS)));
    const first = await Promise.race([this.exited, graceOver]);
    clearTimeout(timer);
    if (first !== 'timeout') return { ...first, killed: false };
    this.signal('SIGKILL');
    return { ...(await this.exited), killed: true };
  }
}

function listeningPort(line: string, service: string): number | undefined {
  if (!line.includes(`${service} listening`)) return undefined;
  try {
    const entryLine = JSON.parse(line) as { message?: string; port?: unknown };
    return entryLine.message === `${service} listening` && typeof entryLine.port === 'number' ? entryLine.port : undefined;
  } catch {
    return undefined;
  }
}

function describeExit(exit: Exit): string {
  return exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
}

function printTail(service: ServiceName, output: string[], why: string): void {
  const tail = output.slice(-TAIL_LINES);
  process.stderr.write(
    `\n---- ${service}: ${why}; its last ${tail.length} lines of output ----\n${tail.map((l) => `[${service}] ${l}`).join('\n')}\n---- end of ${service} ----\n`,
  );
}

/**
 * The four services as built (`dist/`), each its own process on RabbitMQ and its own fresh
 * PostgreSQL database, under a broker namespace of their own so that systems never share a
 * queue. `env` goes to every service on top of this process's environment. The archive goes to
 * an Azurite in this process unless `env` names a storage account
 * (AZURE_STORAGE_CONNECTION_STRING, e.g. the one `npm run infra:up` started). `root` is the
 * checkout whose build runs (the benchmark's baseline lives in a worktree). `nodeArgs` go to
 * each service's node (e.g. `--cpu-prof` for the benchmark).
 */
export async function launchDistributed(env: NodeJS.ProcessEnv, options: { nodeArgs?: string[]; root?: string } = {}): Promise<DistributedSystem> {
  const from = options.root ?? root;
  for (const service of SERVICES) {
    if (!existsSync(entry(service, from))) throw new Error(`${entry(service, from)} is missing: run npm run build first (npm test does)`);
  }
  const adminToken = env.ADMIN_TOKEN ?? randomBytes(18).toString('base64url');
  const namespace = env.MESSAGING_NAMESPACE ?? `${testName('e2e')}.`;
  const databases: Array<Awaited<ReturnType<typeof createTestDatabase>> & { service: ServiceName }> = [];
  const outputs = Object.fromEntries(SERVICES.map((s) => [s, [] as string[]])) as Record<ServiceName, string[]>;
  const processes = new Map<ServiceName, ServiceProcess>();
  const replicas: ServiceProcess[] = [];
  const urls = {} as Record<ServiceName, string>;
  const serviceEnv = new Map<ServiceName, NodeJS.ProcessEnv>();
  const archiveContainer = `e2e-${randomBytes(4).toString('hex')}`;
  let azurite: EmbeddedAzurite | undefined;
  let smtp: SmtpSink | undefined;
  let stopped = false;

  const killAll = () => {
    for (const p of [...processes.values(), ...replicas]) {
      p.expectedExit = true;
      p.signal('SIGKILL');
    }
  };
  // Children never outlive the test process, however it ends.
  process.on('exit', killAll);

  const unexpected: Array<{ service: ServiceName; pid?: number; exit: string; at: string }> = [];
  const onUnexpectedExit = (p: ServiceProcess, exit: Exit) => {
    if (stopped) return;
    unexpected.push({ service: p.service, pid: p.pid, exit: describeExit(exit), at: new Date().toISOString() });
    if (p.started) printTail(p.service, outputs[p.service], `exited unexpectedly (${describeExit(exit)})`);
  };

  const start = async (service: ServiceName): Promise<string> => {
    const p = new ServiceProcess(service, serviceEnv.get(service)!, outputs[service], onUnexpectedExit, options.nodeArgs, from);
    processes.set(service, p);
    try {
      const port = await p.listening();
      const host = serviceEnv.get(service)!.HOST ?? '127.0.0.1';
      const url = `http://${host}:${port}`;
      await waitReady(url, service);
      urls[service] = url;
      return url;
    } catch (error) {
      p.expectedExit = true;
      p.signal('SIGKILL');
      // (Not when cleanUp stopped it because another service failed to start.)
      if (!stopped) printTail(service, outputs[service], `failed to start: ${(error as Error).message}`);
      throw error;
    }
  };

  const cleanUp = async () => {
    stopped = true;
    const stops = await Promise.all(
      [...processes.values(), ...replicas].map(async (p) => ({ service: p.service, wasRunning: p.running, ...(await p.stop()) })),
    );
    for (const s of stops.filter((x) => x.wasRunning)) {
      // SIGTERM is a graceful shutdown with exit code 0 (or, before a service has set up its
      // handler, the signal's default); anything else deserves a look.
      if (s.killed) printTail(s.service, outputs[s.service], `did not stop within ${STOP_GRACE_MS / 1000} s of SIGTERM and was killed`);
      else if (s.code !== null && s.code !== 0) printTail(s.service, outputs[s.service], `stopped with ${describeExit(s)}`);
    }
    process.removeListener('exit', killAll);
    // Queues, exchange, topics and groups of the namespace (the run's teardown catches what this misses).
    await removeTestResources([namespace]).catch((error) => process.stderr.write(`e2e: ${(error as Error).message}\n`));
    await azurite?.close().catch(() => undefined);
    await smtp?.close().catch(() => undefined);
    for (const db of databases)
      await db.drop().catch((error) => process.stderr.write(`e2e: could not drop database ${db.name}: ${(error as Error).message}\n`));
  };

  try {
    if (!env.AZURE_STORAGE_CONNECTION_STRING) azurite = await startAzurite({ port: 0 });
    const blobConnectionString = env.AZURE_STORAGE_CONNECTION_STRING ?? azurite!.connectionString;
    if (!env.SMTP_URL) smtp = await startSmtpSink();
    for (const service of SERVICES) databases.push({ service, ...(await createTestDatabase(`saga_e2e_${service}`)) });
    for (const db of databases) {
      serviceEnv.set(db.service, {
        ...process.env,
        TRANSPORT: 'rabbitmq',
        RABBITMQ_URL: rabbitmqUrl(),
        STREAM: 'kafka',
        KAFKA_BROKERS: kafkaBrokers(),
        AZURE_STORAGE_CONNECTION_STRING: blobConnectionString,
        ARCHIVE_CONTAINER: archiveContainer,
        MESSAGING_NAMESPACE: namespace,
        DATABASE_URL: db.url,
        ORDER_PORT: '0',
        PAYMENT_PORT: '0',
        INVENTORY_PORT: '0',
        ANALYTICS_PORT: '0',
        NOTIFICATION_PORT: '0',
        ...(smtp ? { SMTP_URL: smtp.url } : {}),
        LOG_FORMAT: 'json',
        // The "listening" line is at info; the jest setup's LOG_LEVEL=error is for in-process logs.
        LOG_LEVEL: process.env.LOG_LEVEL === 'debug' ? 'debug' : 'info',
        ...env,
        ADMIN_TOKEN: adminToken,
      });
    }
    await Promise.all(SERVICES.map(start));
  } catch (error) {
    await cleanUp();
    throw error;
  }

  return {
    urls,
    adminToken,
    namespace,
    blobConnectionString: env.AZURE_STORAGE_CONNECTION_STRING ?? azurite!.connectionString,
    archiveContainer,
    smtp,
    databaseUrls: Object.fromEntries(databases.map((db) => [db.service, db.url])) as Record<ServiceName, string>,
    pids: () => Object.fromEntries([...processes].filter(([, p]) => p.running).map(([service, p]) => [service, p.pid])),
    kill: async (service, signal = 'SIGKILL') => {
      const p = processes.get(service)!;
      p.expectedExit = true;
      p.signal(signal);
      return p.exited;
    },
    exited: (service) => {
      const p = processes.get(service)!;
      p.expectedExit = true;
      return p.exited;
    },
    restart: async (service, extraEnv) => {
      if (stopped) throw new Error('the system is stopped');
      if (extraEnv) serviceEnv.set(service, { ...serviceEnv.get(service)!, ...extraEnv });
      if (processes.get(service)?.running) throw new Error(`${service} is still running (pid ${processes.get(service)!.pid}); kill it first`);
      outputs[service].push(`---- restarted by the test at ${new Date().toISOString()} ----`);
      return start(service);
    },
    logs: (service, lines = TAIL_LINES) => outputs[service].slice(-lines),
    unexpectedExits: () => [...unexpected],
    addInstance: async (service, extraEnv) => {
      if (stopped) throw new Error('the system is stopped');
      const output: string[] = [];
      const onExit = (proc: ServiceProcess, exit: Exit) => {
        if (stopped) return;
        unexpected.push({ service, pid: proc.pid, exit: describeExit(exit), at: new Date().toISOString() });
        if (proc.started) printTail(service, output, `another instance exited unexpectedly (${describeExit(exit)})`);
      };
      const p = new ServiceProcess(service, { ...serviceEnv.get(service)!, ...extraEnv }, output, onExit, options.nodeArgs, from);
      replicas.push(p);
      try {
        const url = `http://${serviceEnv.get(service)!.HOST ?? '127.0.0.1'}:${await p.listening()}`;
        await waitReady(url, service);
        return {
          url,
          pid: p.pid!,
          logs: (lines = TAIL_LINES) => output.slice(-lines),
          kill: (signal = 'SIGKILL') => {
            p.expectedExit = true;
            p.signal(signal);
            return p.exited;
          },
          exited: p.exited,
          stop: async () => void (await p.stop()),
        };
      } catch (error) {
        p.expectedExit = true;
        p.signal('SIGKILL');
        printTail(service, output, `its second instance failed to start: ${(error as Error).message}`);
        throw error;
      }
    },
    stop: async () => {
      if (stopped) return;
      await cleanUp();
    },
  };
}

async function waitReady(url: string, service: string): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  let last: string;
  for (;;) {
    try {
      const r = await fetch(`${url}/health/ready`);
      if (r.status === 200) return;
      last = `${r.status} ${await r.text()}`;
    } catch (error) {
      last = (error as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${service} was not ready within ${STARTUP_TIMEOUT_MS / 1000} s: ${last}`);
    await sleep(100);
  }
}
