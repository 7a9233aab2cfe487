import { isNonRetryable } from '@app/messaging';
import { GatewayUnavailableError } from './payment-gateway';
import { SimulatedPaymentGateway } from './simulated-payment-gateway';

describe('simulated payment gateway', () => {
  const gateway = new SimulatedPaymentGateway();

  it('when the account is not flagged, it approves the charge', async () => {
    await expect(gateway.authorize({ customerId: 'alice', simulateGatewayError: false }, 100, 'payment:o1')).resolves.toBeUndefined();
  });

  it('when the account is flagged, it fails with a retryable GatewayUnavailableError', async () => {
    const attempt = gateway.authorize({ customerId: 'mallory', simulateGatewayError: true }, 100, 'payment:o2');
    await expect(attempt).rejects.toBeInstanceOf(GatewayUnavailableError);
    await attempt.catch((e) => expect(isNonRetryable(e)).toBe(false));
  });
});
