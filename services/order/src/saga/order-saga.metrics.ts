import { cancellationReasonSchema, type CancellationReason } from '@app/contracts';
import { METRIC_PREFIX, perRegistry, withinScrape } from '@app/platform';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { OrderStatus } from './order-saga';

export type SagaOutcome = 'confirmed' | 'cancelled';
type TerminalStatus = Extract<OrderStatus, 'CONFIRMED' | 'CANCELLED'>;

/** The sagas still open, read at scrape time: by status, and those PENDING past their deadline. */
export interface OpenSagas {
  pending: number;
  cancelling: number;
  overdue: number;
}

/**
 * The saga's outcomes, counted when an order reaches CONFIRMED or CANCELLED (after the commit
 * that put it there): by outcome, cancellations by reason, and the time from placing the
 * order. An order confirmed and later cancelled by its customer counts once for each.
 */
export class OrderSagaMetrics {
  private readonly orders: Record<SagaOutcome, Counter.Internal>;
  private readonly cancellations: Record<CancellationReason, Counter.Internal>;
  private readonly duration: Record<SagaOutcome, Histogram.Internal<'outcome'>>;
  private openSource?: () => Promise<OpenSagas>;
  private reading?: Promise<OpenSagas | undefined>;

  constructor(registry: Registry) {
    const outcomes: SagaOutcome[] = ['confirmed', 'cancelled'];
    const orders = new Counter({
      name: `${METRIC_PREFIX}orders_completed_total`,
      help: 'Orders that reached a terminal state, by outcome (confirmed, cancelled)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    });
    const cancellations = new Counter({
      name: `${METRIC_PREFIX}order_cancellations_total`,
      help: 'Orders cancelled, by cancellation reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    });
    const duration = new Histogram({
      name: `${METRIC_PREFIX}order_saga_duration_seconds`,
      help: 'Time from an order being placed to its terminal state, by outcome',
      labelNames: ['outcome'] as const,
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers: [registry],
    });
    const open = () => this.open();
    new Gauge({
      name: `${METRIC_PREFIX}orders_open`,
      help: 'Orders whose saga is not over, by status (pending: waiting for payment and stock; cancelling: compensations outstanding), read at scrape time',
      labelNames: ['status'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        const o = await open();
        if (o) for (const status of ['pending', 'cancelling'] as const) this.set({ status }, o[status]);
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}orders_overdue`,
      help: 'Orders still pending past their deadline, read at scrape time: more than a moment above 0 means the deadline check is not running',
      registers: [registry],
      async collect() {
        // No labels, so no sample to leave out: NaN (Prometheus' "no value") when not read, never a 0 that reads as "none overdue".
        const o = await open();
        this.set(o ? o.overdue : Number.NaN);
      },
    });
    // Every outcome's and reason's series exists from the start (at 0), so rates need no first event.
    const zeroed = (c: Counter.Internal) => (c.inc(0), c);
    this.orders = Object.fromEntries(outcomes.map((o) => [o, zeroed(orders.labels(o))])) as Record<SagaOutcome, Counter.Internal>;
    this.duration = Object.fromEntries(outcomes.map((o) => [o, duration.labels(o)])) as Record<SagaOutcome, Histogram.Internal<'outcome'>>;
    this.cancellations = Object.fromEntries(cancellationReasonSchema.options.map((r) => [r, zeroed(cancellations.labels(r))])) as Record<
      CancellationReason,
      Counter.Internal
    >;
  }

  /** An order reached `status` (terminal); `placedAt` and `now` give the saga's duration. */
  completed(status: TerminalStatus, reason: CancellationReason | null, placedAt: Date, now: Date): void {
    const outcome: SagaOutcome = status === 'CONFIRMED' ? 'confirmed' : 'cancelled';
    this.orders[outcome].inc();
    if (outcome === 'cancelled' && reason !== null) this.cancellations[reason].inc();
    this.duration[outcome].observe(Math.max(0, (now.getTime() - placedAt.getTime()) / 1000));
  }

  /** The reader of the open sagas while the service runs; call the result to stop. */
  watchOpen(source: () => Promise<OpenSagas>): () => void {
    this.openSource = source;
    return () => {
      if (this.openSource === source) this.openSource = undefined;
    };
  }

  /** Both gauges collect in one scrape: they share one read. */
  private open(): Promise<OpenSagas | undefined> {
    const source = this.openSource;
    if (!source) return Promise.resolve(undefined);
    this.reading ??= withinScrape(source).finally(() => (this.reading = undefined));
    return this.reading;
  }
}

export const orderSagaMetrics = perRegistry((registry: Registry) => new OrderSagaMetrics(registry));
