import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { createEnvelope, OrderPlaced, RefundPayment } from '@app/contracts';
import { asMessage, failed, handled, LOGGER, NonRetryableError, on, type BatchHandler, type MessageResult, type MessagesOf, type Tx } from '@app/messaging';
import { CLOCK, type Clock, type Logger } from '@app/platform';
import { PAYMENT_GATEWAY, type PaymentGateway } from '../gateway/payment-gateway';
import { payments as paymentDecider, type Account, type Payment, type PaymentInput } from './payment.decide';
import { lockPaymentsAndAccounts, writePayments, type AccountRow } from './payments.sql';

export const SERVICE = 'payment';

/** What Payment consumes from the bus; `libs/contracts/src/topology.ts` binds exactly these. */
export const paymentSubscriptions = [on(OrderPlaced, 'order'), on(RefundPayment, 'order')] as const;
type PaymentMessage = MessagesOf<typeof paymentSubscriptions>;

/** How long an approved charge is remembered for a batch that is handled again. */
const APPROVAL_MEMORY_MS = 5 * 60_000;

/**
 * Payment's handler, a batch at a time: one statement locks and loads the payments of the
 * batch's orders and their customers' accounts; each message is decided in memory in arrival
 * order (two orders of one customer see each other's debits); the charges are asked of the
 * gateway, all at once, outside any loop over the database; one statement writes the payments
 * and balances; the answers go to the outbox. A charge the gateway refuses fails its message
 * alone: the batch is decided again without it (approved charges are remembered, not asked
 * twice) and the others commit.
 *
 * The gateway is asked at most once per order by this process (`approvals`), with an
 * idempotency key derived from the order for any provider that is asked again after a crash.
 */
@Injectable()
export class PaymentHandlers implements BatchHandler<typeof paymentSubscriptions> {
  readonly subscriptions = paymentSubscriptions;
  private readonly approvals = new Map<string, Promise<void>>();

  constructor(
    @Inject(PAYMENT_GATEWAY) private readonly gateway: PaymentGateway,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async handle(tx: Tx, messages: PaymentMessage[]): Promise<MessageResult[]> {
    const orderIds = [...new Set(messages.map((m) => m.payload.orderId))];
    const placedBy = [...new Set(messages.flatMap((m) => (m.type === 'OrderPlaced' ? [m.payload.customerId] : [])))];
    const loaded = await lockPaymentsAndAccounts(tx.sql, orderIds, placedBy);
    // A new payment's id is chosen once per message, so that deciding the batch again gives the same one.
    const newIds = new Map(messages.map((m) => [m, randomUUID()]));
    const failures = new Map<PaymentMessage, unknown>();

    for (;;) {
      const round = this.decideAll(messages, failures, loaded, newIds);
      const refused = await this.charge(round.charges);
      if (refused.size === 0) {
        const now = this.clock.now();
        await writePayments(
          tx.sql,
          [...round.changedPayments].map((id) => round.payments.get(id)!),
          [...round.changedAccounts].map((id) => round.accounts.get(id)!),
          now,
        );
        for (const [m, outputs] of round.sends) {
          tx.send(
            ...outputs.map((out) =>
              createEnvelope({ type: out.type, key: m.payload.orderId, source: SERVICE, causedBy: m, occurredAt: now, payload: out.payload }),
            ),
          );
        }
        return messages.map((m) => (failures.has(m) ? failed(failures.get(m)) : handled));
      }
      // Decide again without the messages whose charge was refused; their effects never happened.
      for (const [m, error] of refused) failures.set(m, error);
    }
  }

  /** Decides every message not failed, in arrival order, on copies of what was loaded. */
  private decideAll(
    messages: PaymentMessage[],
    failures: Map<PaymentMessage, unknown>,
    loaded: { payments: Map<string, Payment>; accounts: Map<string, AccountRow> },
    newIds: Map<PaymentMessage, string>,
  ) {
    const payments = new Map(loaded.payments);
    const accounts = new Map<string, Account>(loaded.accounts);
    const changedPayments = new Set<string>();
    const changedAccounts = new Set<string>();
    const charges: Array<{ message: PaymentMessage; account: AccountRow; amount: number }> = [];
    const sends = new Map<PaymentMessage, Array<{ type: 'PaymentAuthorized' | 'PaymentDeclined' | 'PaymentRefunded'; payload: unknown }>>();
    for (const m of messages) {
      if (failures.has(m)) continue;
      asMessage(m, () => {
        const orderId = m.payload.orderId;
        const payment = payments.get(orderId) ?? null;
        const customerId = m.type === 'OrderPlaced' ? m.payload.customerId : payment?.customerId;
        const account = customerId ? (accounts.get(customerId) ?? null) : null;
        const input = { type: m.type, payload: m.payload, newPaymentId: newIds.get(m)! } as PaymentInput;
        const decision = paymentDecider.decide({ payment, account }, input);
        if (!decision.accepted) {
          if (decision.unprocessable) failures.set(m, new NonRetryableError(`${m.type} for order ${orderId} cannot be processed: ${decision.why}`));
          else this.logger.info('payment did not accept the message', { orderId, type: m.type, status: payment?.status, why: decision.why });
          return;
        }
        const { payment: nextPayment, account: nextAccount } = decision.state;
        if (nextPayment && nextPayment !== payment) {
          payments.set(orderId, nextPayment);
          changedPayments.add(orderId);
        }
        if (nextAccount && nextAccount !== account) {
          accounts.set(nextAccount.customerId, nextAccount);
          changedAccounts.add(nextAccount.customerId);
        }
        const out: Array<{ type: 'PaymentAuthorized' | 'PaymentDeclined' | 'PaymentRefunded'; payload: unknown }> = [];
        for (const o of decision.send) {
          if (o.type === 'Charge') charges.push({ message: m, account: loaded.accounts.get(nextAccount!.customerId)!, amount: o.amount });
          else out.push(o);
        }
        sends.set(m, out);
        this.logger.debug('payment step', {
          orderId,
          input: m.type,
          status: nextPayment?.status ?? payment?.status,
          ...(nextAccount && nextAccount !== account ? { balance: nextAccount.balance } : {}),
          sent: out.map((o) => o.type),
        });
      });
    }
    return { payments, accounts, changedPayments, changedAccounts, charges, sends };
  }

  /** Asks the gateway for every charge at once; answers the messages whose charge it refused. */
  private async charge(charges: Array<{ message: PaymentMessage; account: AccountRow; amount: number }>): Promise<Map<PaymentMessage, unknown>> {
    const results = await Promise.allSettled(charges.map((c) => this.approve(c.message.payload.orderId, c.account, c.amount)));
    const refused = new Map<PaymentMessage, unknown>();
    results.forEach((r, i) => {
      if (r.status === 'rejected') refused.set(charges[i].message, r.reason);
    });
    return refused;
  }

  private approve(orderId: string, account: AccountRow, amount: number): Promise<void> {
    let approval = this.approvals.get(orderId);
    if (!approval) {
      approval = this.gateway.authorize(account, amount, `payment:${orderId}`);
      this.approvals.set(orderId, approval);
      // A refusal is not remembered (the retry asks again); an approval is, for a while.
      approval.then(
        () => setTimeout(() => this.approvals.delete(orderId), APPROVAL_MEMORY_MS).unref(),
        () => this.approvals.delete(orderId),
      );
    }
    return approval;
  }
}
