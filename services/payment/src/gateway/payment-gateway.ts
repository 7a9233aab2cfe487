/**
 * The payment gateway seam: the outside party that approves a charge. A rejection that is
 * worth retrying (the provider is down) is a GatewayUnavailableError, which the consumer
 * pipeline retries and finally dead-letters like any other transient failure.
 */
export interface PaymentGateway {
  /** Resolves when the charge is approved; rejects with GatewayUnavailableError when it cannot be decided now. */
  authorize(account: GatewayAccount, amount: number): Promise<void>;
}

export interface GatewayAccount {
  customerId: string;
  simulateGatewayError: boolean;
}

export class GatewayUnavailableError extends Error {
  override readonly name = 'GatewayUnavailableError';
}

export const PAYMENT_GATEWAY = Symbol('PAYMENT_GATEWAY');
