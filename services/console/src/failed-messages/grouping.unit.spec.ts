import { describe as describeDeadLetter, errorType, firstFrameOfOurs, groupFailures, type ListedDeadLetter } from './grouping';

const stack = [
  'GatewayUnavailableError: the payment gateway did not answer',
  '    at SimulatedGateway.charge (/repo/dist/services/payment/src/gateway/simulated.gateway.js:40:13)',
  '    at PaymentHandlers.handle (/repo/dist/services/payment/src/payments/payment.handlers.js:77:9)',
].join('\n');

const deadLetter = (id: string, at: string, type = 'OrderPlaced', s = stack): ListedDeadLetter => ({
  id,
  queue: 'payment',
  routingKey: type,
  deadLetteredAt: at,
  failure: { error: 'the payment gateway did not answer', stack: s, attempts: 12, deliveries: 3, nonRetryable: false, firstFailedAt: at, failedAt: at },
  headers: {},
  message: { type, messageId: `m-${id}`, payload: { orderId: `o-${id}` } },
});

describe('grouping failed messages', () => {
  it('names the error type from the stack', () => {
    expect(errorType('the payment gateway did not answer', stack)).toBe('GatewayUnavailableError');
    expect(errorType('TypeError: x is undefined')).toBe('TypeError');
  });

  it('takes the first frame of our code, without line and column', () => {
    expect(firstFrameOfOurs(stack)).toBe('SimulatedGateway.charge (services/payment/src/gateway/simulated.gateway.js)');
    expect(firstFrameOfOurs('Error: x\n    at f (/repo/node_modules/pg/lib/client.js:1:1)\n    at g (node:internal/x:1:1)')).toBe('(no frame of ours)');
  });

  it('puts the same failure of the same message type in one group, with counts and first and last seen', () => {
    const retries = (id: string) => (id === 'm-b' ? 2 : 0);
    const messages = [
      deadLetter('a', '2026-12-07T10:00:00.000Z'),
      deadLetter('b', '2026-12-07T10:05:00.000Z'),
      deadLetter('c', '2026-12-07T10:01:00.000Z', 'PaymentAuthorized'),
    ].map((d) => describeDeadLetter('payment', d, retries));
    const groups = groupFailures(messages);
    expect(groups.map((g) => [g.messageType, g.count, g.firstSeen, g.lastSeen])).toEqual([
      ['OrderPlaced', 2, '2026-12-07T10:00:00.000Z', '2026-12-07T10:05:00.000Z'],
      ['PaymentAuthorized', 1, '2026-12-07T10:01:00.000Z', '2026-12-07T10:01:00.000Z'],
    ]);
    expect(groups[0]!.messages.map((m) => [m.orderId, m.retries])).toEqual([
      ['o-a', 0],
      ['o-b', 2],
    ]);
  });
});
