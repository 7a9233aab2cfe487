import { accept, reject, unreachable, type Decider } from '@app/messaging';

/** Which outcome a delivery tells of: one delivery per (order, outcome). */
export type OutcomeKind = 'CONFIRMED' | 'CANCELLED';

/**
 * A delivery record, keyed by (order, outcome): SENT once the SMTP server accepted the mail,
 * SKIPPED when the order gave no address, FAILED while sending fails (its message is retried).
 * SENDING is the state between deciding to send and the SMTP server's answer; the handler
 * settles it (Sent or SendFailed) before it writes, so it is never stored.
 */
export type Delivery =
  | { status: 'SENDING'; attempts: number }
  | { status: 'SENT'; attempts: number }
  | { status: 'SKIPPED'; attempts: number }
  | { status: 'FAILED'; attempts: number; lastError: string }
  | null;

export type NotificationInput = { type: 'OutcomeReported'; email: string | null } | { type: 'Sent' } | { type: 'SendFailed'; error: string };

export type NotificationOutput = { type: 'SendMail'; to: string };

/**
 * Exactly one email per outcome per order: an outcome already SENT (or SKIPPED for want of an
 * address) is never told again, whatever is redelivered or replayed; a FAILED one is sent again.
 */
export const notifications: Decider<Delivery, NotificationInput, NotificationOutput> = {
  decide(delivery, input) {
    switch (input.type) {
      case 'OutcomeReported':
        if (delivery?.status === 'SENT') return reject('the customer was already told of this outcome');
        if (delivery?.status === 'SKIPPED') return reject('this outcome had no address to tell');
        if (delivery?.status === 'SENDING') return reject('this outcome is being sent by an earlier message of the batch');
        if (input.email === null) return accept({ status: 'SKIPPED', attempts: delivery?.attempts ?? 0 });
        return accept<Delivery, NotificationOutput>({ status: 'SENDING', attempts: delivery?.attempts ?? 0 }, [{ type: 'SendMail', to: input.email }]);
      case 'Sent':
        if (delivery?.status !== 'SENDING') return reject('no send was under way', true);
        return accept({ status: 'SENT', attempts: delivery.attempts + 1 });
      case 'SendFailed':
        if (delivery?.status !== 'SENDING') return reject('no send was under way', true);
        return accept({ status: 'FAILED', attempts: delivery.attempts + 1, lastError: input.error });
      default:
        return unreachable(input);
    }
  },
};
