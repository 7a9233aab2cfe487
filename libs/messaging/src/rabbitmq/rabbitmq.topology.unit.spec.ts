import type { Logger } from '@app/platform';
import { backoffDelayMs, defaultRecoverability } from '../recoverability';
import { RabbitMqTopology, retryTiers } from './rabbitmq.topology';

const warnings: string[] = [];
const logger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (message) => void warnings.push(message),
  error: () => undefined,
  child: () => logger,
};
const topology = (retryDelays = defaultRecoverability) =>
  new RabbitMqTopology({ namespace: 'ns.', exchange: 'saga.events', deliveryLimit: 20, retryDelays, logger });

describe('delay tiers', () => {
  it('has one tier per backoff step, at the upper edge of its jitter, up to the cap', () => {
    expect(retryTiers(defaultRecoverability)).toEqual([1200, 2400, 4800, 9600, 19_200, 38_400, 72_000]);
  });

  it('stays a small fixed set however the policy is tuned', () => {
    expect(retryTiers({ baseDelayMs: 1, maxDelayMs: 3_600_000, jitter: 0.2 }).length).toBeLessThanOrEqual(31);
    expect(retryTiers({ baseDelayMs: 0, maxDelayMs: 60_000, jitter: 0.2 })).toEqual([1]);
    expect(retryTiers({ baseDelayMs: 500, maxDelayMs: 500, jitter: 0 })).toEqual([500]);
  });

  it('puts every delay the policy can draw in the tier of its own step', () => {
    const t = topology();
    for (let retry = 1; retry <= 12; retry++) {
      for (const r of [0, 0.5, 0.999]) {
        const delay = backoffDelayMs(retry, defaultRecoverability, () => r);
        const tier = t.tierFor(delay);
        const nominal = Math.min(defaultRecoverability.maxDelayMs, defaultRecoverability.baseDelayMs * 2 ** (retry - 1));
        expect({ retry, r, tier }).toEqual({ retry, r, tier: Math.ceil(nominal * 1.2) });
        expect(tier).toBeGreaterThanOrEqual(delay);
      }
    }
    expect(warnings).toEqual([]);
  });

  it('sends a delay beyond every tier to the longest one, and says so once', () => {
    const t = topology();
    expect(t.tierFor(10 * 60_000)).toBe(72_000);
    expect(t.tierFor(20 * 60_000)).toBe(72_000);
    expect(warnings).toEqual(['a retry delay is longer than the longest delay tier; it waits that tier']);
  });

  it('names a tier queue by its TTL, beside the consumer queue and its DLQ', () => {
    const t = topology();
    expect([t.queueName('payment'), t.tierQueue('payment', 1200), t.deadLetterQueue('payment')]).toEqual([
      'ns.payment',
      'ns.payment.retry.1200ms',
      'ns.payment.dlq',
    ]);
  });
});
