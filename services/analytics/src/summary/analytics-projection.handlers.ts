import { Inject, Injectable } from '@nestjs/common';
import type { Envelope } from '@app/contracts';
import { asMessage, handled, LOGGER, MessageFailed, UnitOfWork } from '@app/messaging';
import { CLOCK, type Clock, type Logger } from '@app/platform';
import { isTerminal, orderIdOf, project, type OrderFact } from './order-facts.projection';
import { lockOrderFacts, writeOrderFacts, type EventCount } from './order-facts.sql';

export const SERVICE = 'analytics';

/**
 * The events the archiver reads from the stream come here a Kafka batch at a time, in one
 * transaction, the shape of every handler: inbox (duplicates end here), lock and load the facts
 * of the batch's orders, fold every event in memory in partition order (`project`, which knows
 * nothing of the transport or the database), write the facts and the batch's counts per type.
 */
@Injectable()
export class AnalyticsProjectionHandler {
  constructor(
    private readonly uow: UnitOfWork,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  private queue: Array<{ events: Envelope[]; resolve(): void; reject(error: unknown): void }> = [];
  private running = false;

  /**
   * Resolves once the events' projection committed; rejects if it could not. The archiver's
   * partitions call it at once, each with a few events: what arrives while a transaction runs
   * shares the next one (group commit), so the summary costs a transaction per round, not per
   * partition's slice.
   */
  projectAll(events: Envelope[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ events, resolve, reject });
      this.next();
    });
  }

  private next(): void {
    if (this.running || this.queue.length === 0) return;
    this.running = true;
    const group = this.queue.splice(0);
    void this.project(group.flatMap((g) => g.events))
      .then(
        () => group.forEach((g) => g.resolve()),
        async () => {
          // Nothing of the group committed: each caller's events alone, so one bad slice fails alone.
          for (const g of group) await this.project(g.events).then(g.resolve, g.reject);
        },
      )
      .finally(() => {
        this.running = false;
        this.next();
      });
  }

  private async project(events: Envelope[]): Promise<void> {
    const outcomes = await this.uow.handleBatch(SERVICE, events, async (tx, fresh) => {
      const orderIds = [...new Set(fresh.map(orderIdOf).filter((id): id is string => id !== null))].sort();
      const facts = await lockOrderFacts(tx.sql, orderIds);
      const changed = new Map<string, OrderFact>();
      const counts = new Map<string, EventCount>();
      for (const event of fresh) {
        asMessage(event, () => {
          const orderId = orderIdOf(event);
          if (orderId) {
            const before = facts.get(orderId) ?? null;
            const after = project(before, event);
            if (after) {
              facts.set(orderId, after);
              changed.set(orderId, after);
              // Late or repeated news of a finished order: counted, but the fact keeps its outcome.
              if (before && after.status === before.status && isTerminal(before.status))
                this.logger.info('order event did not change a finished order', { orderId, type: event.type, status: before.status });
            }
          }
          const at = new Date(event.occurredAt);
          const c = counts.get(event.type);
          if (c) {
            c.count++;
            if (at > c.lastAt) c.lastAt = at;
          } else counts.set(event.type, { type: event.type, count: 1, lastAt: at });
        });
      }
      await writeOrderFacts(tx.sql, [...changed.values()], [...counts.values()], this.clock.now());
      return fresh.map(() => handled);
    });
    const failure = outcomes.find((o) => o instanceof MessageFailed);
    if (failure) throw failure.error;
  }
}
