import { contracts, envelopeSchema, routingKeyFor, type Envelope, type MessageContract } from '@app/contracts';
import { withLogContext, type Logger } from '@app/platform';
import { decideRecovery, NonRetryableError, isNonRetryable, type RecoverabilityOptions } from './recoverability';
import type { FailureInfo, InboundDelivery, Subscription, Transport } from './transport';

export interface HandlerRegistration {
  contract: MessageContract;
  /** The service that publishes it; the binding is `<from>.<message>` (or `*` for any). */
  from: string;
  handle(message: Envelope<never>): Promise<void>;
}

export interface ConsumerOptions {
  service: string;
  queue: string;
  prefetch: number;
  handlers: HandlerRegistration[];
  /** Receive every message on the exchange (binding `#`), e.g. for analytics. */
  catchAll?: (message: Envelope) => Promise<void>;
  recoverability: RecoverabilityOptions;
  /** Runs before a message is dead-lettered; if it fails, the message is retried later instead. */
  onDeadLetter?: (message: Envelope | null, failure: FailureInfo) => Promise<void>;
}

type Handler = (message: Envelope) => Promise<void>;

/**
 * Where a message enters a service. Parses and validates the envelope and payload (a message
 * that fails is not retried: it goes to the DLQ), runs the handler with immediate retries,
 * then acks, schedules a delayed retry or dead-letters, per the recoverability policy.
 * The handler itself commits (inbox + effects + outbox) before it returns; the ack follows.
 */
export class MessageConsumer {
  private subscription?: Subscription;
  private readonly byType = new Map<string, Handler>();

  constructor(
    private readonly transport: Transport,
    private readonly logger: Logger,
    private readonly options: ConsumerOptions,
  ) {
    for (const h of options.handlers) this.byType.set(h.contract.type, h.handle as Handler);
  }

  bindings(): string[] {
    if (this.options.catchAll) return ['#'];
    return this.options.handlers.map((h) => routingKeyFor(h.from, h.contract.type));
  }

  async start(): Promise<void> {
    this.subscription = await this.transport.subscribe({ queue: this.options.queue, bindings: this.bindings(), prefetch: this.options.prefetch }, (d) =>
      this.onDelivery(d),
    );
    this.logger.info('consumer started', { queue: this.options.queue, bindings: this.bindings() });
  }

  async stop(): Promise<void> {
    await this.subscription?.close();
    this.subscription = undefined;
  }

  /** Exposed for tests; the transport calls it for each delivery. */
  async onDelivery(delivery: InboundDelivery): Promise<void> {
    const firstFailedAt = typeof delivery.headers['x-first-failed-at'] === 'string' ? delivery.headers['x-first-failed-at'] : undefined;
    const priorAttempts = typeof delivery.headers['x-attempts'] === 'number' ? delivery.headers['x-attempts'] : 0;
    let message: Envelope | null = null;
    let handler: Handler;
    try {
      message = this.parse(delivery.body);
      handler = this.handlerFor(message);
    } catch (error) {
      await this.fail(delivery, message, error, priorAttempts + 1, firstFailedAt);
      return;
    }

    const ctx = { correlationId: message.correlationId, causationId: message.causationId, messageId: message.messageId, messageType: message.type };
    await withLogContext(ctx, async () => {
      let lastError: unknown;
      let attempts = 0;
      for (let i = 0; i <= this.options.recoverability.immediateRetries; i++) {
        attempts++;
        try {
          await handler(message!);
          await delivery.ack();
          return;
        } catch (error) {
          lastError = error;
          if (isNonRetryable(error)) break;
          this.logger.debug('handler failed, retrying now', { attempt: priorAttempts + attempts, error: errorText(error) });
        }
      }
      await this.fail(delivery, message, lastError, priorAttempts + attempts, firstFailedAt);
    });
  }

  private parse(body: string): Envelope {
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      throw new NonRetryableError('message body is not valid JSON');
    }
    const env = envelopeSchema.safeParse(json);
    if (!env.success) throw new NonRetryableError(`invalid envelope: ${issues(env.error)}`);
    const envelope = env.data as Envelope;
    const contract = contracts[envelope.type];
    // A catch-all consumer (analytics) keeps readable events of types it does not know yet.
    if (!contract && this.options.catchAll) return envelope;
    if (!contract) {
      // The envelope is readable: keep it so the failure can still be traced to its saga.
      throw Object.assign(new NonRetryableError(`unknown message type ${envelope.type}`), { envelope });
    }
    const payload = contract.schema.safeParse(envelope.payload);
    if (!payload.success) {
      throw Object.assign(new NonRetryableError(`invalid ${envelope.type} payload: ${issues(payload.error)}`), { envelope });
    }
    return { ...envelope, payload: payload.data };
  }

  private handlerFor(message: Envelope): Handler {
    const h = this.byType.get(message.type) ?? this.options.catchAll;
    if (!h) throw Object.assign(new NonRetryableError(`${this.options.queue} has no handler for ${message.type}`), { envelope: message });
    return h;
  }

  private async fail(delivery: InboundDelivery, message: Envelope | null, error: unknown, attempts: number, firstFailedAt?: string): Promise<void> {
    const now = new Date().toISOString();
    const failure: FailureInfo = {
      error: errorText(error),
      stack: error instanceof Error ? error.stack : undefined,
      attempts,
      deliveries: delivery.deliveryCount,
      nonRetryable: isNonRetryable(error),
      firstFailedAt: firstFailedAt ?? now,
      failedAt: now,
    };
    const action = decideRecovery(error, delivery.deliveryCount, this.options.recoverability);
    if (action.kind === 'retry-later') {
      this.logger.warn('handler failed, delayed retry scheduled', { delayMs: action.delayMs, delivery: delivery.deliveryCount, error: failure.error });
      await delivery.retryLater(action.delayMs, failure);
      return;
    }
    const traced = message ?? (error as { envelope?: Envelope }).envelope ?? null;
    this.logger.error('message dead-lettered', { queue: this.options.queue, error: failure.error, attempts, messageId: traced?.messageId, type: traced?.type });
    try {
      await this.options.onDeadLetter?.(traced, failure);
    } catch (hookError) {
      // The compensation trigger could not be recorded: keep the message rather than lose it.
      this.logger.error('dead-letter hook failed; retrying the message later', { error: errorText(hookError) });
      await delivery.retryLater(this.options.recoverability.maxDelayMs, failure);
      return;
    }
    await delivery.deadLetter(failure);
  }
}

function issues(error: { issues: Array<{ path: PropertyKey[]; message: string }> }): string {
  return error.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('; ');
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
