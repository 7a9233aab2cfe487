import * as amqp from 'amqplib';
import { backoffMs, sleep, type Backoff, type Logger } from '@app/platform';

export interface RabbitMqConnectionOptions {
  url: string;
  logger: Logger;
  /** How long the first connect keeps trying before start-up fails. */
  connectTimeoutMs?: number;
  /** Shown by the broker (management UI and API) as the connection's `connection_name`. */
  connectionName?: string;
}

/** What the transport does with each new connection. */
export interface ConnectionHooks {
  /** Before the connection is offered to publishers: the topology. A failure drops the connection. */
  declare(model: amqp.ChannelModel): Promise<void>;
  /** Once it is offered: the consumers. A failure drops the connection. */
  resume(model: amqp.ChannelModel): Promise<void>;
  /** The connection is gone (its channels with it). */
  lost(): void;
}

/** The first connect, while the broker may still be starting. */
const CONNECT_BACKOFF: Backoff = { baseMs: 100, maxMs: 2000 };
/** After a lost connection; jittered, so that instances that lost the broker together do not all come back at once. */
const RECONNECT_BACKOFF: Backoff = { baseMs: 200, maxMs: 5000, jitter: 0.2 };

/**
 * The connection lifecycle: connect (with a deadline), one confirm channel for every publish,
 * reconnect with backoff when the connection is lost, and the hooks that declare the topology
 * and resubscribe the consumers on each new connection.
 */
export class RabbitMqConnection {
  private model?: amqp.ChannelModel;
  private pub?: amqp.ConfirmChannel;
  private ready = false;
  private closing = false;
  private reconnectAttempt = 0;
  private reconnectTimer?: NodeJS.Timeout;

  constructor(
    private readonly options: RabbitMqConnectionOptions,
    private readonly hooks: ConnectionHooks,
  ) {}

  isReady(): boolean {
    return this.ready;
  }

  /** The live connection, for channels of their own (consumers, dead-letter admin). */
  current(): amqp.ChannelModel {
    if (!this.ready || !this.model) throw new Error('RabbitMQ is not connected');
    return this.model;
  }

  /** Whether `model` is still the live connection (a consumer channel closed on its own, not with its connection). */
  isCurrent(model: amqp.ChannelModel): boolean {
    return this.ready && this.model === model;
  }

  async connect(): Promise<void> {
    const deadline = Date.now() + (this.options.connectTimeoutMs ?? 30_000);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.open();
        return;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`cannot connect to RabbitMQ: ${String(error)}`, { cause: error });
        this.options.logger.warn('RabbitMQ not reachable yet', { error: String(error) });
        await sleep(backoffMs(attempt, CONNECT_BACKOFF));
      }
    }
  }

  /** Publishes on the confirm channel; resolves when the broker confirmed this message, rejects if it refused it or the channel closed first. */
  send(exchange: string, routingKey: string, content: Buffer, options: amqp.Options.Publish): Promise<void> {
    if (!this.ready || !this.pub) return Promise.reject(new Error('RabbitMQ is not connected'));
    const ch = this.pub;
    return new Promise<void>((resolve, reject) => {
      const onClose = () => reject(new Error('channel closed before the broker confirmed'));
      ch.once('close', onClose);
      ch.publish(exchange, routingKey, content, { persistent: true, ...options }, (err) => {
        ch.removeListener('close', onClose);
        if (err) reject(err instanceof Error ? err : new Error('message nacked by the broker'));
        else resolve();
      });
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.reconnectTimer);
    this.ready = false;
    await this.model?.close().catch(() => undefined);
    this.model = undefined;
  }

  private async open(): Promise<void> {
    const url = new URL(this.options.url);
    if (!url.searchParams.has('heartbeat')) url.searchParams.set('heartbeat', '10');
    // noDelay: a publish or an ack is a small frame; Nagle's algorithm would hold it back for
    // the peer's delayed ACK (tens of milliseconds per hop of the saga).
    const clientProperties = this.options.connectionName ? { connection_name: this.options.connectionName } : {};
    const model = await amqp.connect(url.toString(), { noDelay: true, clientProperties });
    coalesceWrites(model);
    try {
      model.on('error', (e) => this.options.logger.warn('RabbitMQ connection error', { error: String(e) }));
      model.on('close', () => this.onClosed(model));
      const pub = await model.createConfirmChannel();
      pub.setMaxListeners(0);
      pub.on('error', (e) => this.options.logger.warn('RabbitMQ publish channel error', { error: String(e) }));
      // A broken publish channel is rare (a precondition failure); start over with a new connection.
      pub.on('close', () => {
        if (this.pub === pub && !this.closing) void model.close().catch(() => undefined);
      });
      await this.hooks.declare(model);
      this.model = model;
      this.pub = pub;
      this.ready = true;
      await this.hooks.resume(model);
      this.options.logger.info('connected to RabbitMQ', { connectionName: this.options.connectionName });
    } catch (error) {
      // Given up here, not in onClosed: the caller (connect, or the reconnect timer) tries again.
      const offered = this.model === model;
      this.ready = false;
      this.model = undefined;
      this.pub = undefined;
      if (offered) this.hooks.lost();
      await model.close().catch(() => undefined);
      throw error;
    }
  }

  private onClosed(model: amqp.ChannelModel): void {
    if (this.model !== model) return;
    this.ready = false;
    this.model = undefined;
    this.pub = undefined;
    this.hooks.lost();
    if (this.closing) return;
    this.options.logger.warn('RabbitMQ connection lost; reconnecting');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    clearTimeout(this.reconnectTimer);
    const delay = backoffMs(this.reconnectAttempt++, RECONNECT_BACKOFF);
    this.reconnectTimer = setTimeout(async () => {
      if (this.closing || this.ready) return;
      try {
        await this.open();
        this.reconnectAttempt = 0;
      } catch (error) {
        this.options.logger.warn('RabbitMQ reconnect failed', { error: String(error), retryInMs: delay });
        this.scheduleReconnect();
      }
    }, delay);
  }
}

/**
 * amqplib writes every frame to the socket on its own (its Mux hands chunks to the socket one
 * by one); on loopback each write is a system call that costs as much as the work it carries.
 * Corking the socket for one pass of the Mux turns a batch's publishes and acks into one
 * write. Reaches into amqplib 0.10's internals (connection.muxer), so it checks their shape and
 * leaves amqplib as it is if they changed (ADR 0007).
 */
function coalesceWrites(model: amqp.ChannelModel): void {
  const mux = (model as unknown as { connection?: { muxer?: { _readIncoming?: () => void; out?: { cork?: () => void; uncork?: () => void } } } }).connection
    ?.muxer;
  const out = mux?.out;
  if (!mux?._readIncoming || !out?.cork || !out.uncork) return;
  const read = mux._readIncoming.bind(mux);
  mux._readIncoming = () => {
    out.cork!();
    try {
      read();
    } finally {
      out.uncork!();
    }
  };
}
