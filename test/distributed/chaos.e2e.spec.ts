import { FAULT_KINDS } from '../chaos/faults';
import { defaultSoakOptions, printReport, soak } from '../chaos/soak';

/**
 * The chaos soak, short (CI): 20 orders/s for 100 s against two instances of every service,
 * every kind of fault once in an order fixed by the seed, then the soak's checks. The long one
 * is `npm run chaos` (docs/testing.md). Always distributed; it restarts RabbitMQ, Kafka and
 * PostgreSQL, so it runs in band with the rest of test/distributed/.
 */
describe('chaos soak (distributed, short)', () => {
  it('loses nothing, doubles nothing and parks nothing unexplained under every kind of fault', async () => {
    const lines: string[] = [];
    const report = await soak({
      ...defaultSoakOptions,
      rate: 20,
      durationS: 100,
      seed: 20261201,
      faults: FAULT_KINDS,
      faultGapS: [2, 4],
      schedule: 'each-once',
      settleTimeoutS: 180,
      log: (line) => lines.push(line),
    });
    printReport(report, (l) => lines.push(l));
    if (!report.ok) process.stderr.write(`${lines.join('\n')}\n`);
    expect(new Set(report.faults.map((f) => f.kind))).toEqual(new Set(FAULT_KINDS));
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(report.orders.accepted).toBeGreaterThan(1000);
  }, 900_000);
});
