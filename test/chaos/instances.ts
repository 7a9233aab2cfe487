import { SERVICES, type ServiceInstance, type ServiceName } from '../support/distributed';
import type { DistributedSystem } from '../support/system';
import { pick, type Random } from './random';

/**
 * Two instances of every service: the launcher's own process (`primary`) and one more started
 * with `addInstance` (`replica`), as Kubernetes runs them with `replicas: 2`. A fault kills one
 * and starts it again; the other keeps serving.
 */
export class Instance {
  up = true;
  /** Pids that exited because a fault made them (SIGKILL, or a fault that kills itself). */
  readonly expectedExits = new Set<number>();

  constructor(
    private readonly sut: DistributedSystem,
    readonly service: ServiceName,
    readonly role: 'primary' | 'replica',
    private replica?: ServiceInstance,
  ) {}

  get name(): string {
    return `${this.service}/${this.role}`;
  }

  get url(): string {
    return this.role === 'primary' ? this.sut.urls[this.service] : this.replica!.url;
  }

  get pid(): number | undefined {
    return this.role === 'primary' ? this.sut.pids()[this.service] : this.replica?.pid;
  }

  async kill(): Promise<void> {
    const pid = this.pid;
    if (pid) this.expectedExits.add(pid);
    this.up = false;
    if (this.role === 'primary') await this.sut.kill(this.service, 'SIGKILL');
    else await this.replica!.kill('SIGKILL');
  }

  /** Resolves when the running process exits by itself (a fault that kills itself); counted as expected. */
  async exitedByItself(): Promise<void> {
    const pid = this.pid;
    if (pid) this.expectedExits.add(pid);
    if (this.role === 'primary') await this.sut.exited(this.service);
    else await this.replica!.exited;
    this.up = false;
  }

  /** Starts it again; `env` for this start only (what a fault needs), the defaults otherwise. */
  async start(env: NodeJS.ProcessEnv = {}): Promise<void> {
    const withDefaults = { ANALYTICS_FAULT: '', TRANSPORT_DUPLICATE_DELIVERY: 'false', ...env };
    if (this.role === 'primary') await this.sut.restart(this.service, withDefaults);
    else this.replica = await this.sut.addInstance(this.service, withDefaults);
    this.up = true;
  }
}

export class Instances {
  private constructor(readonly all: Instance[]) {}

  static async start(sut: DistributedSystem): Promise<Instances> {
    const replicas = await Promise.all(SERVICES.map((s) => sut.addInstance(s)));
    return new Instances(SERVICES.flatMap((s, i) => [new Instance(sut, s, 'primary'), new Instance(sut, s, 'replica', replicas[i])]));
  }

  of(service: ServiceName): Instance[] {
    return this.all.filter((i) => i.service === service);
  }

  /** A running instance's URL (either, at random); the primary's if none is up (the caller retries). */
  pickUrl(service: ServiceName, random: Random): string {
    const up = this.of(service).filter((i) => i.up);
    return (up.length ? pick(random, up) : this.of(service)[0]).url;
  }

  expectedExitPids(): Set<number> {
    return new Set(this.all.flatMap((i) => [...i.expectedExits]));
  }
}
