/**
 * The payment gateway seam: the outside party that approves a charge. A rejection that is
 * worth retrying (the provider is down) is a GatewayUnavailableError, which the consumer
 * pipeline retries and finally dead-letters like any other transient failure.
 */
export interface PaymentGateway {
  /**
   * Resolves when the charge is approved; rejects with GatewayUnavailableError when it cannot
   * be decided now. `idempotencyKey` names the charge (derived from the order): a provider
   * asked twice with one key charges once, so a message handled again after a crash between
   * the approval and the commit cannot charge twice.
   */
  authorize(account: GatewayAccount, amount: number, idempotencyKey: string): Promise<void>;
}

export interface GatewayAccount {
  customerId: string;
  simulateGatewayError: boolean;
}

export class GatewayUnavailableError extends Error {
  override readonly name = 'GatewayUnavailableError';
}

export const PAYMENT_GATEWAY = Symbol('PAYMENT_GATEWAY');
