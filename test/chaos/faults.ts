import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import amqp from 'amqplib';
import { Kafka, logLevel } from 'kafkajs';
import { createEnvelope } from '@app/contracts';
import { sleep } from '@app/platform';
import { startBroker, stopBroker } from '../support/broker';
import type { DistributedSystem } from '../support/system';
import { management } from '../support/test-run';
import type { Instance, Instances } from './instances';
import { between, pick, type Random } from './random';

const run = promisify(execFile);
const kafkaScript = join(__dirname, '..', '..', 'scripts', 'kafka.sh');
const kafkaBrokers = () => (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const rabbitUrl = () => process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

export const FAULT_KINDS = [
  'kill',
  'rabbit-restart',
  'rabbit-connection-close',
  'kafka-restart',
  'analytics-kill-after-upload',
  'postgres-restart',
  'poison',
  'duplicate-storm',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface InjectedFault {
  kind: FaultKind;
  target: string;
  at: string;
  /** How long the fault lasted (until healed), seconds. */
  seconds: number;
  note?: string;
}

/**
 * The fault injectors. Each injects one fault and heals it before it returns (a killed instance
 * is started again after a random pause, a stopped broker started again), so that faults come
 * one at a time and every one of them is recorded with what it hit.
 */
export class Faults {
  readonly injected: InjectedFault[] = [];
  /** Poison messages put on the bus and the stream: the only dead letters the checks accept (with the failing gateway's). */
  readonly poison = { bus: new Set<string>(), stream: new Set<string>() };

  constructor(
    private readonly sut: DistributedSystem,
    private readonly instances: Instances,
    private readonly random: Random,
    private readonly log: (line: string) => void,
  ) {}

  async inject(kind: FaultKind): Promise<void> {
    const started = Date.now();
    const at = new Date(started).toISOString();
    let target = '';
    let note: string | undefined;
    try {
      switch (kind) {
        case 'kill': {
          const victim = pick(this.random, this.instances.all);
          target = victim.name;
          await victim.kill();
          await sleep(between(this.random, 1000, 6000));
          await victim.start();
          break;
        }
        case 'rabbit-restart':
          target = 'RabbitMQ (stop_app / start_app)';
          await stopBroker();
          await sleep(between(this.random, 2000, 6000));
          await startBroker();
          break;
        case 'rabbit-connection-close':
          target = 'RabbitMQ connection';
          note = await this.closeConnection();
          break;
        case 'kafka-restart': {
          target = 'Kafka';
          await kafka('down');
          // kafka.sh stops only a broker this checkout started: another one on the port would
          // turn this fault into none, and the soak would claim a restart it never made.
          const stillUp = await kafka('status').then(
            () => true,
            () => false,
          );
          if (stillUp)
            throw new Error(
              'Kafka still answers after scripts/kafka.sh down: the broker on the port was not started by this checkout (stop it with npm run infra:down where it was started, or leave kafka-restart out of --faults)',
            );
          await sleep(between(this.random, 2000, 8000));
          await kafka('up');
          break;
        }
        case 'analytics-kill-after-upload': {
          const victim = pick(this.random, this.instances.of('analytics'));
          target = victim.name;
          await victim.kill();
          // It SIGKILLs itself after its next upload, before committing the offsets.
          await victim.start({ ANALYTICS_FAULT: 'kill-after-upload' });
          const died = await Promise.race([victim.exitedByItself().then(() => true), sleep(30_000).then(() => false)]);
          if (!died) {
            note = 'no upload within 30 s; killed';
            await victim.kill();
          }
          await victim.start();
          break;
        }
        case 'postgres-restart':
          target = 'PostgreSQL';
          await restartPostgres();
          break;
        case 'poison':
          target = 'bus and stream';
          note = await this.poisonBoth();
          break;
        case 'duplicate-storm': {
          const victim = pick(
            this.random,
            this.instances.all.filter((i) => i.service !== 'analytics'),
          );
          target = victim.name;
          // That instance publishes every bus message twice for a while.
          await this.restartWith(victim, { TRANSPORT_DUPLICATE_DELIVERY: 'true' });
          await sleep(between(this.random, 5000, 15_000));
          await this.restartWith(victim, {});
          break;
        }
      }
    } catch (error) {
      // A fault that cannot be injected (or healed) is the harness's problem: the soak stops.
      note = `${note ? `${note}; ` : ''}injecting failed: ${(error as Error).message}`;
      throw error;
    } finally {
      const fault: InjectedFault = { kind, target, at, seconds: Math.round((Date.now() - started) / 100) / 10, ...(note ? { note } : {}) };
      this.injected.push(fault);
      this.log(`fault: ${kind} → ${target} (${fault.seconds} s)${note ? `: ${note}` : ''}`);
    }
  }

  /** After the load: everything running again (a fault that failed half-way may have left something down). */
  async healAll(): Promise<void> {
    await startBroker();
    await kafka('up');
    for (const i of this.instances.all) if (!i.up) await i.start();
  }

  private async restartWith(victim: Instance, env: NodeJS.ProcessEnv): Promise<void> {
    await victim.kill();
    await victim.start(env);
  }

  private async closeConnection(): Promise<string> {
    const conns = (await management('/api/connections?columns=name,client_properties')) as Array<{
      name: string;
      client_properties?: { connection_name?: string };
    }>;
    const ours = conns.filter((c) => c.client_properties?.connection_name?.startsWith(this.sut.namespace));
    if (ours.length === 0) return 'no connection of this system found (connection_name not set?)';
    const victim = pick(this.random, ours);
    await management(`/api/connections/${encodeURIComponent(victim.name)}`, 'DELETE');
    return victim.client_properties!.connection_name!;
  }

  private async poisonBoth(): Promise<string> {
    const { envelope } = poisonOrderPlaced();
    const connection = await amqp.connect(rabbitUrl());
    try {
      const channel = await connection.createConfirmChannel();
      channel.publish(`${this.sut.namespace}saga.events`, 'order.order-placed', Buffer.from(JSON.stringify(envelope)), {
        persistent: true,
        contentType: 'application/json',
        messageId: envelope.messageId,
      });
      await channel.waitForConfirms();
      this.poison.bus.add(envelope.messageId);
    } finally {
      await connection.close();
    }
    const producer = new Kafka({ clientId: 'chaos', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    const streamId = `poison-${envelope.messageId}`;
    try {
      await producer.send({
        topic: `${this.sut.namespace}order-events`,
        messages: [{ key: envelope.key, value: '{not json', headers: { 'message-id': streamId } }],
      });
      this.poison.stream.add(streamId);
    } finally {
      await producer.disconnect();
    }
    return `bus ${envelope.messageId}, stream ${streamId}`;
  }
}

async function kafka(command: 'up' | 'down' | 'status'): Promise<void> {
  await run('bash', [kafkaScript, command], { timeout: 150_000 });
}

async function restartPostgres(): Promise<void> {
  const { stdout } = await run('ls', ['/etc/postgresql']);
  const version = stdout.trim().split('\n')[0];
  await run('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'restart'], { timeout: 120_000 });
}

/** A valid envelope with a payload no consumer accepts: a poison message on the bus. */
function poisonOrderPlaced() {
  const orderId = randomUUID();
  return { envelope: createEnvelope({ type: 'OrderPlaced', key: orderId, source: 'order', payload: { orderId, items: [], total: -1 } }), orderId };
}
