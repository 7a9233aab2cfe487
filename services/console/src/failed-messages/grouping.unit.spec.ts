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

  it("reads Analytics' dead letters, Kafka records perhaps unreadable, by their headers and the reading's verdict", () => {
    const at = '2026-12-07T10:00:00.000Z';
    const parked = (id: string, error: string, message: unknown, headers: Record<string, unknown>, stack?: string): ListedDeadLetter => ({
      id,
      queue: 'analytics',
      routingKey: 'order-events',
      deadLetteredAt: at,
      failure: { error, ...(stack ? { stack } : {}), attempts: 2, deliveries: 2, nonRetryable: false, firstFailedAt: at, failedAt: at },
      headers: { 'x-original-topic': 'order-events', 'kafka-key': 'o-1', ...headers },
      message,
    });
    const unreadable = describeDeadLetter(
      'analytics',
      parked('analytics:1', 'not valid JSON', '{not json', { 'message-type': 'OrderPlaced', 'message-id': 'm-1' }),
      () => 1,
    );
    expect(unreadable).toMatchObject({ messageType: 'OrderPlaced', messageId: 'm-1', orderId: 'o-1', errorType: 'not valid JSON', retries: 1 });
    const invalid = [
      parked('analytics:2', 'invalid envelope: messageId: Invalid input', { foo: 1 }, {}),
      parked('analytics:3', 'invalid envelope: (root): expected object', 'null', {}),
    ].map((d) => describeDeadLetter('analytics', d, () => 0));
    expect(invalid.map((m) => [m.messageType, m.errorType, m.frame, m.orderId])).toEqual([
      ['unreadable record of order-events', 'invalid envelope', '(no frame of ours)', 'o-1'],
      ['unreadable record of order-events', 'invalid envelope', '(no frame of ours)', 'o-1'],
    ]);
    expect(groupFailures(invalid)).toHaveLength(1);
    // An upcaster that threw: its stack names the type and our frame.
    const upcast = describeDeadLetter(
      'analytics',
      parked(
        'analytics:4',
        'no upcaster from v3',
        { type: 'OrderPlaced', messageId: 'm-4', key: 'o-4', payload: { orderId: 'o-4' } },
        {},
        'RangeError: no upcaster from v3\n    at upcastPayload (/repo/dist/libs/contracts/src/versioning.js:20:11)',
      ),
      () => 0,
    );
    expect(upcast).toMatchObject({
      messageType: 'OrderPlaced',
      orderId: 'o-4',
      errorType: 'RangeError',
      frame: 'upcastPayload (libs/contracts/src/versioning.js)',
    });
  });
});
