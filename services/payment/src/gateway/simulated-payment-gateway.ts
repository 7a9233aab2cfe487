import { Injectable } from '@nestjs/common';
import { GatewayUnavailableError, type GatewayAccount, type PaymentGateway } from './payment-gateway';

/**
 * Approves every charge, except for accounts flagged `simulateGatewayError` (a payment
 * provider's magic test card): those fail as if the provider were down, every time, so a
 * message exhausts its retries and is dead-lettered. End-to-end tests rely on this.
 */
@Injectable()
export class SimulatedPaymentGateway implements PaymentGateway {
  /** Charges approved, by idempotency key (what a provider keeps for a day): a repeat is answered from here. */
  private readonly approved = new Set<string>();
  private static readonly REMEMBERED = 100_000;

  async authorize(account: GatewayAccount, amount: number, idempotencyKey: string): Promise<void> {
    if (this.approved.has(idempotencyKey)) return;
    if (account.simulateGatewayError) {
      throw new GatewayUnavailableError(`payment gateway unavailable (simulated for customer ${account.customerId}, amount ${amount})`);
    }
    this.approved.add(idempotencyKey);
    // Bounded: the oldest keys go first (a Set iterates in insertion order).
    if (this.approved.size > SimulatedPaymentGateway.REMEMBERED) this.approved.delete(this.approved.values().next().value!);
  }
}
