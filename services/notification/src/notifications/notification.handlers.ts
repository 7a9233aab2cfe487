import { Inject, Injectable } from '@nestjs/common';
import { OrderCancelled, OrderConfirmed } from '@app/contracts';
import { asMessage, failed, handled, LOGGER, on, type BatchHandler, type MessageResult, type MessagesOf, type Tx } from '@app/messaging';
import { CLOCK, type Clock, type Logger } from '@app/platform';
import { NOTIFICATION_CONFIG, type NotificationConfig } from '../config';
import { MAILER, MailNotSent, messageIdFor, type Mailer, type OutgoingMail } from '../mail/mailer';
import { notifications, type Delivery, type OutcomeKind } from './notification.decide';
import { NotificationMetrics } from './notification.metrics';
import { renderOutcome } from './notification.templates';
import { keyOf, lockDeliveries, writeDeliveries, type DeliveryRow } from './notifications.sql';

export const SERVICE = 'notification';

/** What Notification consumes from the bus; `libs/contracts/src/topology.ts` binds exactly these. */
export const notificationSubscriptions = [on(OrderConfirmed, 'order'), on(OrderCancelled, 'order')] as const;
type NotificationMessage = MessagesOf<typeof notificationSubscriptions>;

/** How long a mail the SMTP server took is remembered, for a batch that is handled again. */
const ACCEPTED_MEMORY_MS = 5 * 60_000;

/**
 * Notification's handler, a batch at a time: one statement locks and loads the delivery records
 * of the batch's (order, outcome) keys; each outcome is decided in arrival order (one already
 * told is not told again); the mails are sent, all at once, to the SMTP server; one statement
 * writes the records; the messages whose mail was not taken fail alone (recorded FAILED with the
 * error, and retried, then dead-lettered, by the message's policy) while the others commit.
 *
 * The one window for a second email is a crash between the server taking a mail and the commit
 * that records it SENT: the redelivered message sends it again with the same Message-ID (derived
 * from the key), which a receiving server may use to drop the repeat. A batch handled again in
 * this process (after a failure elsewhere in it) does not send again: what the server took is
 * remembered for a while, as Payment remembers its approvals.
 */
@Injectable()
export class NotificationHandlers implements BatchHandler<typeof notificationSubscriptions> {
  readonly subscriptions = notificationSubscriptions;
  private readonly accepted = new Map<string, Promise<{ response: string }>>();

  constructor(
    @Inject(MAILER) private readonly mailer: Mailer,
    @Inject(NOTIFICATION_CONFIG) private readonly config: NotificationConfig,
    @Inject(NotificationMetrics) private readonly metrics: NotificationMetrics,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async handle(tx: Tx, messages: NotificationMessage[]): Promise<MessageResult[]> {
    const outcomeOf = (m: NotificationMessage): OutcomeKind => (m.type === 'OrderConfirmed' ? 'CONFIRMED' : 'CANCELLED');
    const deliveries: Map<string, Delivery> = await lockDeliveries(tx.sql, [
      ...new Map(messages.map((m) => [keyOf(m.payload.orderId, outcomeOf(m)), { orderId: m.payload.orderId, outcome: outcomeOf(m) }])).values(),
    ]);
    const rows = new Map<string, DeliveryRow>();
    const sends: Array<{ message: NotificationMessage; key: string; mail: OutgoingMail }> = [];

    for (const m of messages) {
      asMessage(m, () => {
        const outcome = outcomeOf(m);
        const key = keyOf(m.payload.orderId, outcome);
        const decision = notifications.decide(deliveries.get(key) ?? null, { type: 'OutcomeReported', email: m.payload.email ?? null });
        if (!decision.accepted) return this.logger.info('notification not sent', { orderId: m.payload.orderId, outcome, why: decision.why });
        deliveries.set(key, decision.state);
        const rendered = renderOutcome(m.type === 'OrderConfirmed' ? { kind: 'confirmed', order: m.payload } : { kind: 'cancelled', order: m.payload });
        const messageId = messageIdFor(m.payload.orderId, outcome, this.config.messageIdDomain);
        rows.set(key, {
          orderId: m.payload.orderId,
          outcome,
          customerId: m.payload.customerId,
          recipient: m.payload.email ?? null,
          subject: rendered.subject,
          status: 'SKIPPED',
          attempts: decision.state?.attempts ?? 0,
          lastError: null,
          messageId,
          smtpResponse: null,
          correlationId: m.correlationId,
          sentAt: null,
        });
        for (const out of decision.send) sends.push({ message: m, key, mail: { to: out.to, messageId, ...rendered } });
      });
    }

    const answers = await Promise.allSettled(sends.map((s) => this.send(s.mail)));
    const results = new Map<NotificationMessage, MessageResult>();
    const now = this.clock.now();
    answers.forEach((answer, i) => {
      const { message, key } = sends[i];
      const error = answer.status === 'rejected' ? (answer.reason instanceof Error ? answer.reason.message : String(answer.reason)) : '';
      const decision = notifications.decide(deliveries.get(key) ?? null, answer.status === 'fulfilled' ? { type: 'Sent' } : { type: 'SendFailed', error });
      if (!decision.accepted || !decision.state) throw new Error(`the delivery of ${key} was not under way: ${decision.accepted ? '' : decision.why}`);
      deliveries.set(key, decision.state);
      const row = rows.get(key)!;
      if (answer.status === 'fulfilled')
        rows.set(key, { ...row, status: 'SENT', attempts: decision.state.attempts, smtpResponse: answer.value.response, sentAt: now });
      else {
        rows.set(key, { ...row, status: 'FAILED', attempts: decision.state.attempts, lastError: error.slice(0, 1000) });
        results.set(message, failed(new MailNotSent(`the mail for order ${message.payload.orderId} (${row.outcome}) was not sent: ${error}`)));
      }
    });
    await writeDeliveries(tx.sql, [...rows.values()], now);
    tx.afterCommit(() => {
      for (const r of rows.values())
        this.metrics.counted(
          r.outcome === 'CONFIRMED' ? 'confirmed' : 'cancelled',
          r.status === 'SENT' ? 'sent' : r.status === 'SKIPPED' ? 'skipped' : 'failed',
        );
    });
    return messages.map((m) => results.get(m) ?? handled);
  }

  private send(mail: OutgoingMail): Promise<{ response: string }> {
    let sending = this.accepted.get(mail.messageId);
    if (!sending) {
      sending = this.mailer.send(mail);
      this.accepted.set(mail.messageId, sending);
      // A refusal is not remembered (the retry sends again); a mail the server took is, for a while.
      sending.then(
        () => setTimeout(() => this.accepted.delete(mail.messageId), ACCEPTED_MEMORY_MS).unref(),
        () => this.accepted.delete(mail.messageId),
      );
    }
    return sending;
  }
}
