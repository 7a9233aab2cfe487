import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { createEnvelope, OrderPlaced, RefundPayment, type Envelope, type MessageContract } from '@app/contracts';
import { LOGGER, NonRetryableError, UnitOfWork, type HandlerRegistration, type MessageHandlers, type Tx } from '@app/messaging';
import { CLOCK, type Clock, type Logger } from '@app/platform';
import { accountOf, lockAccount, saveAccount } from '../accounts/accounts.repository';
import { PAYMENT_GATEWAY, type PaymentGateway } from '../gateway/payment-gateway';
import { decide, type PaymentInput } from './payment.decide';
import { lockPayment, paymentOf, savePayment } from './payments.repository';

export const SERVICE = 'payment';

type PaymentMessage = Envelope<OrderPlaced> | Envelope<RefundPayment>;

/**
 * Payment's handlers, one shape for both messages: inbox, load (locked), decide, charge
 * through the gateway, save, outbox, one commit.
 */
@Injectable()
export class PaymentHandlers implements MessageHandlers {
  constructor(
    private readonly uow: UnitOfWork,
    @Inject(PAYMENT_GATEWAY) private readonly gateway: PaymentGateway,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  registrations(): HandlerRegistration[] {
    const on = (contract: MessageContract, from: string): HandlerRegistration => ({
      contract,
      from,
      handle: (m: Envelope<never>) => this.onMessage(m as PaymentMessage),
    });
    return [on(OrderPlaced, 'order'), on(RefundPayment, 'order')];
  }

  async onMessage(message: PaymentMessage): Promise<void> {
    const result = await this.uow.handle(SERVICE, message, (tx) => this.apply(tx, message));
    if (result === 'duplicate') this.logger.info('duplicate message ignored', { type: message.type, orderId: message.payload.orderId });
  }

  private async apply(tx: Tx, message: PaymentMessage): Promise<void> {
    const input = { type: message.type, payload: message.payload } as PaymentInput;
    const orderId = input.payload.orderId;
    // Always payment before account, in every path, so two handlers never wait on each other.
    const payment = await lockPayment(tx.manager, orderId);
    const customerId = input.type === 'OrderPlaced' ? input.payload.customerId : payment?.customerId;
    const account = customerId ? await lockAccount(tx.manager, customerId) : null;

    const decision = decide({ payment: payment && paymentOf(payment), account: account && accountOf(account) }, input, { newPaymentId: randomUUID() });
    if (!decision.accepted) {
      if (decision.unprocessable) throw new NonRetryableError(`${message.type} for order ${orderId} cannot be processed: ${decision.why}`);
      this.logger.info('payment did not accept the message', { orderId, type: message.type, status: payment?.status, why: decision.why });
      return;
    }

    if (decision.charge !== undefined) {
      // Before anything is written: a gateway failure rolls the whole message back for a retry.
      await this.gateway.authorize(account!, decision.charge);
    }
    const now = this.clock.now();
    if (decision.changes.payment) await savePayment(tx.manager, payment, decision.changes.payment, now);
    if (decision.changes.account) await saveAccount(tx.manager, account, decision.changes.account, now);
    await tx.send(
      ...decision.send.map((out) =>
        createEnvelope({ type: out.type, key: orderId, source: SERVICE, causedBy: message, occurredAt: now, payload: out.payload }),
      ),
    );
    this.logger.info('payment step', {
      orderId,
      input: message.type,
      status: decision.changes.payment?.status ?? payment?.status,
      ...(decision.changes.account ? { balance: decision.changes.account.balance } : {}),
      sent: decision.send.map((o) => o.type),
    });
  }
}
