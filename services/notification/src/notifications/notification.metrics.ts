import { METRIC_PREFIX, perRegistry } from '@app/platform';
import { Counter, type Registry } from 'prom-client';

type Outcome = 'confirmed' | 'cancelled';
type Status = 'sent' | 'skipped' | 'failed';

/**
 * What Notification told customers, counted after the commit that recorded it: by outcome and
 * by status (`sent`: the SMTP server took it; `skipped`: the order gave no address; `failed`: an
 * attempt the server refused or could not be reached for, retried through the message's policy).
 */
export class NotificationMetrics {
  private readonly counts: Record<`${Outcome}/${Status}`, Counter.Internal>;

  constructor(registry: Registry) {
    const counter = new Counter({
      name: `${METRIC_PREFIX}notifications_total`,
      help: 'Outcome emails by outcome (confirmed, cancelled) and status (sent, skipped for want of an address, failed attempt)',
      labelNames: ['outcome', 'status'] as const,
      registers: [registry],
    });
    const entries = (['confirmed', 'cancelled'] as const).flatMap((outcome) =>
      (['sent', 'skipped', 'failed'] as const).map((status) => [`${outcome}/${status}`, counter.labels(outcome, status)] as const),
    );
    // Every series exists from the start (at 0), so rates need no first event.
    for (const [, c] of entries) c.inc(0);
    this.counts = Object.fromEntries(entries) as Record<`${Outcome}/${Status}`, Counter.Internal>;
  }

  counted(outcome: Outcome, status: Status): void {
    this.counts[`${outcome}/${status}`].inc();
  }
}

export const notificationMetrics = perRegistry((registry: Registry) => new NotificationMetrics(registry));
