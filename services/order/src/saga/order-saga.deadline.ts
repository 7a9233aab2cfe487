import { Inject, Injectable } from '@nestjs/common';
import { DataSource, LessThanOrEqual } from 'typeorm';
import { createEnvelope, OrderDeadlineReached } from '@app/contracts';
import { handled, LOGGER, UnitOfWork } from '@app/messaging';
import { CLOCK, type Clock, type Logger } from '@app/platform';
import { ORDER_CONFIG, type OrderConfig } from '../config';
import { OrderEntity } from '../orders/order.entity';
import { OrderSagaHandlers, SERVICE, type DeadlineReached } from './order-saga.handlers';
import { OrderSagaMetrics, type OpenSagas } from './order-saga.metrics';

/**
 * The saga's deadline. Timeouts are messages too: an order still PENDING at its deadline gets
 * an OrderDeadlineReached, handled like any other message (inbox, decide, save, outbox), with
 * a message id derived from the order so that two schedulers cannot time an order out twice.
 */
@Injectable()
export class OrderDeadlineScheduler {
  private timer?: NodeJS.Timeout;
  private busy = false;
  private unwatch?: () => void;

  constructor(
    private readonly dataSource: DataSource,
    private readonly uow: UnitOfWork,
    private readonly saga: OrderSagaHandlers,
    @Inject(ORDER_CONFIG) private readonly config: OrderConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly metrics: OrderSagaMetrics,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.tick(), this.config.deadlineCheckIntervalMs);
    this.timer.unref();
    this.unwatch = this.metrics.watchOpen(() => this.openSagas());
  }

  beforeApplicationShutdown(): void {
    clearInterval(this.timer);
    this.unwatch?.();
  }

  /** The open sagas for the metrics: two counts over the (status, deadline_at) index. */
  async openSagas(): Promise<OpenSagas> {
    const orders = this.dataSource.getRepository(OrderEntity);
    const [byStatus, overdue] = await Promise.all([
      orders
        .createQueryBuilder('o')
        .select('o.status', 'status')
        .addSelect('COUNT(*)', 'n')
        .where('o.status IN (:...open)', { open: ['PENDING', 'CANCELLING'] })
        .groupBy('o.status')
        .getRawMany<{ status: string; n: string | number }>(),
      orders.count({ where: { status: 'PENDING', deadlineAt: LessThanOrEqual(this.clock.now()) } }),
    ]);
    const count = (status: string) => Number(byStatus.find((r) => r.status === status)?.n ?? 0);
    return { pending: count('PENDING'), cancelling: count('CANCELLING'), overdue };
  }

  async tick(): Promise<number> {
    if (this.busy) return 0;
    this.busy = true;
    try {
      const due = await this.dataSource.getRepository(OrderEntity).find({
        select: { id: true, deadlineAt: true, correlationId: true, traceParent: true },
        where: { status: 'PENDING', deadlineAt: LessThanOrEqual(this.clock.now()) },
        order: { deadlineAt: 'ASC' },
        take: 100,
      });
      const messages = due.map((o) => {
        const reached = createEnvelope<OrderDeadlineReached>({
          messageId: `deadline:${o.id}`,
          type: OrderDeadlineReached.type,
          key: o.id,
          source: SERVICE,
          correlationId: o.correlationId,
          occurredAt: this.clock.now(),
          payload: { orderId: o.id, deadline: o.deadlineAt.toISOString() },
        }) as DeadlineReached;
        // In the order's trace (under the request that placed it), as the compensations it causes.
        if (o.traceParent) reached.traceparent = o.traceParent;
        return reached;
      });
      // One batch, like messages from the bus: the inbox lets each order time out once.
      if (messages.length) await this.uow.handleBatch(SERVICE, messages, (tx, fresh) => this.saga.apply(tx, fresh).then((r) => r.map(() => handled)));
      return due.length;
    } catch (error) {
      this.logger.error('deadline check failed', { error: String(error) });
      return 0;
    } finally {
      this.busy = false;
    }
  }
}
