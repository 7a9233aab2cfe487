import { Inject, Injectable } from '@nestjs/common';
import type { Envelope } from '@app/contracts';
import { LOGGER, UnitOfWork } from '@app/messaging';
import { CLOCK, type Clock, type Logger } from '@app/platform';
import { isTerminal, orderIdOf, project } from './order-facts.projection';
import { countEvent, lockOrderFact, saveOrderFact } from './order-facts.repository';

export const SERVICE = 'analytics';

/**
 * Every event from the stream comes here (via the archiver). Same shape as every handler: inbox (a
 * duplicate ends here), load the fact locked, project, save, count, one commit. The folding
 * itself is `project`, which knows nothing of the transport or the database.
 */
@Injectable()
export class AnalyticsProjectionHandler {
  constructor(
    private readonly uow: UnitOfWork,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async handleAny(message: Envelope): Promise<void> {
    const result = await this.uow.handle(SERVICE, message, async (tx) => {
      const orderId = orderIdOf(message);
      if (orderId) {
        const before = await lockOrderFact(tx.manager, orderId);
        const after = project(before, message);
        if (after) {
          await saveOrderFact(tx.manager, after, this.clock.now());
          if (before && after.status === before.status && isTerminal(before.status)) {
            // Late or repeated news of a finished order: counted, but the fact keeps its outcome.
            this.logger.info('order event did not change a finished order', { orderId, type: message.type, status: before.status });
          }
        }
      }
      await countEvent(tx.manager, message);
    });
    if (result === 'duplicate') this.logger.info('duplicate message ignored', { type: message.type });
  }
}
