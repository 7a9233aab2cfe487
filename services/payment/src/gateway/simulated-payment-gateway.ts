import { Injectable } from '@nestjs/common';
import { GatewayUnavailableError, type GatewayAccount, type PaymentGateway } from './payment-gateway';

/**
 * Approves every charge, except for accounts flagged `simulateGatewayError` (a payment
 * provider's magic test card): those fail as if the provider were down, every time, so a
 * message exhausts its retries and is dead-lettered. End-to-end tests rely on this.
 */
@Injectable()
export class SimulatedPaymentGateway implements PaymentGateway {
  async authorize(account: GatewayAccount, amount: number): Promise<void> {
    if (account.simulateGatewayError) {
      throw new GatewayUnavailableError(`payment gateway unavailable (simulated for customer ${account.customerId}, amount ${amount})`);
    }
  }
}
