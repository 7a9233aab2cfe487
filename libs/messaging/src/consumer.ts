import { contracts, envelopeSchema, NewerVersionError, routingKeyFor, upcastPayload, type Envelope, type MessageContract } from '@app/contracts';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, type Span } from '@opentelemetry/api';
import { contextFrom, serviceRegistry, serviceTracer, traceparentOf, tracingEnabled, type Logger } from '@app/platform';
import { asMessage, type Subscription } from './handler';
import { ConsumerMetrics, deadLetterMetrics, type MessageOutcome } from './metrics';
import { decideRecovery, NonRetryableError, isNonRetryable, type RecoverabilityOptions } from './recoverability';
import type { FailureInfo, InboundDelivery, TransportSubscription, Transport } from './transport';

export interface ConsumerOptions {
  service: string;
  queue: string;
  prefetch: number;
  /** What the consumer's queue is bound to, and the contract each message is validated against. */
  subscriptions: readonly Subscription[];
  /**
   * Handles one validated message; resolves once its transaction committed (the batcher, in a
   * service), with `'duplicate'` if the inbox already had it. `retry`: the message failed
   * before, on this delivery or an earlier one.
   */
  handle(message: Envelope, context: { retry: boolean }): Promise<unknown>;
  recoverability: RecoverabilityOptions;
  /** Runs before a message is dead-lettered; if it fails, the message is retried later instead. */
  onDeadLetter?: (message: Envelope | null, failure: FailureInfo) => Promise<void>;
  /** Where the consumer counts its deliveries; by default the service's registry. */
  metrics?: ConsumerMetrics;
}

/**
 * Where a message enters a service. Parses and validates the envelope and payload (a message
 * that fails is not retried: it goes to the DLQ), runs the handler with immediate retries,
 * then acks, schedules a delayed retry or dead-letters, per the recoverability policy.
 * The handler itself commits (inbox + effects + outbox) before it returns; the ack follows.
 */
export class MessageConsumer {
  private subscription?: TransportSubscription;
  private readonly byType = new Map<string, MessageContract>();
  private readonly metrics: ConsumerMetrics;
  private unwatchDeadLetters?: () => void;

  constructor(
    private readonly transport: Transport,
    private readonly logger: Logger,
    private readonly options: ConsumerOptions,
  ) {
    for (const s of options.subscriptions) this.byType.set(s.contract.type, s.contract);
    this.metrics = options.metrics ?? new ConsumerMetrics(serviceRegistry(options.service), [...this.byType.keys()]);
  }

  bindings(): string[] {
    return this.options.subscriptions.map((s) => routingKeyFor(s.from, s.contract.type));
  }

  async start(): Promise<void> {
    this.subscription = await this.transport.subscribe({ queue: this.options.queue, bindings: this.bindings(), prefetch: this.options.prefetch }, (d) =>
      this.onDelivery(d),
    );
    const queue = this.options.queue;
    this.unwatchDeadLetters = deadLetterMetrics(this.metrics.registry).watch('bus', () => this.transport.deadLetterCount(queue));
    this.logger.info('consumer started', { queue, bindings: this.bindings() });
  }

  async stop(): Promise<void> {
    this.unwatchDeadLetters?.();
    await this.subscription?.close();
    this.subscription = undefined;
  }

  /** Exposed for tests; the transport calls it for each delivery. */
  async onDelivery(delivery: InboundDelivery): Promise<void> {
    const started = performance.now();
    let metrics = this.metrics.unknown;
    let span: Span | undefined;
    try {
      const firstFailedAt = typeof delivery.headers['x-first-failed-at'] === 'string' ? delivery.headers['x-first-failed-at'] : undefined;
      const priorAttempts = typeof delivery.headers['x-attempts'] === 'number' ? delivery.headers['x-attempts'] : 0;
      let message: Envelope;
      try {
        message = this.parse(delivery.body);
      } catch (error) {
        metrics = this.metrics.of((error as { envelope?: Envelope }).envelope?.type);
        metrics.settled(await this.fail(delivery, null, error, priorAttempts + 1, firstFailedAt), started);
        return;
      }
      metrics = this.metrics.of(message.type);
      span = this.startSpan(message, delivery.deliveryCount);
      let tried = priorAttempts;
      const outcome = await asMessage(message, async (): Promise<MessageOutcome> => {
        let lastError: unknown;
        let attempts = 0;
        for (let i = 0; i <= this.options.recoverability.immediateRetries; i++) {
          attempts++;
          tried = priorAttempts + attempts;
          try {
            const result = await this.options.handle(message, { retry: attempts > 1 || delivery.deliveryCount > 1 });
            await delivery.ack();
            return result === 'duplicate' ? 'duplicate' : 'handled';
          } catch (error) {
            lastError = error;
            if (isNonRetryable(error)) break;
            this.logger.debug('handler failed, retrying now', { attempt: priorAttempts + attempts, error: errorText(error) });
          }
        }
        return this.fail(delivery, message, lastError, priorAttempts + attempts, firstFailedAt);
      });
      metrics.settled(outcome, started, outcome === 'handled' ? message.occurredAt : undefined, outcome === 'retried' ? undefined : tried);
      if (span) {
        span.setAttribute('saga.outcome', outcome);
        if (outcome === 'dead-lettered' || outcome === 'retried') span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
        span.end();
      }
    } catch (error) {
      // Not settled (the ack, the retry or the dead letter could not be sent): the broker redelivers it.
      metrics.settled('failed', started);
      span?.setStatus({ code: SpanStatusCode.ERROR, message: 'not settled' });
      span?.end();
      throw error;
    }
  }

  /**
   * The span of one delivery, a child of the span that sent the message (its envelope's
   * traceparent). The message handed to the handler carries this span as its traceparent, so
   * what the handler sends (caused by it) continues the trace from here. Undefined while tracing
   * is off: then nothing is allocated per message.
   */
  private startSpan(message: Envelope, deliveryCount: number): Span | undefined {
    if (!tracingEnabled()) return undefined;
    const tracer = serviceTracer(this.options.service);
    const span = tracer.startSpan(
      `process ${message.type}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          'messaging.operation.type': 'process',
          'messaging.destination.name': this.options.queue,
          'messaging.message.id': message.messageId,
          'messaging.message.conversation_id': message.correlationId,
          'messaging.rabbitmq.delivery_count': deliveryCount,
        },
      },
      // From the root, not the active context: a delivery may run in whatever context published
      // it (the in-memory bus delivers from the sender's), and only the envelope names the parent.
      contextFrom(message.traceparent, ROOT_CONTEXT),
    );
    const traceparent = traceparentOf(span);
    if (!traceparent) return undefined;
    message.traceparent = traceparent;
    return span;
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
    const contract = this.byType.get(envelope.type);
    if (!contract) {
      // The envelope is readable: keep it so the failure can still be traced to its saga.
      const why = contracts[envelope.type] ? `${this.options.queue} has no handler for ${envelope.type}` : `unknown message type ${envelope.type}`;
      throw Object.assign(new NonRetryableError(why), { envelope });
    }
    // An older version becomes the newest here, at the edge: handlers know one version only.
    let newest: unknown;
    try {
      newest = upcastPayload(contract, envelope.version, envelope.payload);
    } catch (error) {
      // Newer than this code: retried, a rolling deployment catches up. Not upcastable: never will be.
      throw Object.assign(error instanceof NewerVersionError ? error : new NonRetryableError((error as Error).message), { envelope });
    }
    const payload = contract.schema.safeParse(newest);
    if (!payload.success) {
      throw Object.assign(new NonRetryableError(`invalid ${envelope.type} payload: ${issues(payload.error)}`), { envelope });
    }
    return { ...envelope, version: contract.version, payload: payload.data };
  }

  private async fail(
    delivery: InboundDelivery,
    message: Envelope | null,
    error: unknown,
    attempts: number,
    firstFailedAt?: string,
  ): Promise<'retried' | 'dead-lettered'> {
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
      return 'retried';
    }
    const traced = message ?? (error as { envelope?: Envelope }).envelope ?? null;
    this.logger.error('message dead-lettered', { queue: this.options.queue, error: failure.error, attempts, messageId: traced?.messageId, type: traced?.type });
    try {
      await this.options.onDeadLetter?.(traced, failure);
    } catch (hookError) {
      // The compensation trigger could not be recorded: keep the message rather than lose it.
      this.logger.error('dead-letter hook failed; retrying the message later', { error: errorText(hookError) });
      await delivery.retryLater(this.options.recoverability.maxDelayMs, failure);
      return 'retried';
    }
    await delivery.deadLetter(failure);
    return 'dead-lettered';
  }
}

function issues(error: { issues: Array<{ path: PropertyKey[]; message: string }> }): string {
  return error.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('; ');
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
