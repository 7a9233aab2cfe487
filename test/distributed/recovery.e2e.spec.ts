import { Pool } from 'pg';
import { Api, quiet, uniq } from '../support/api';
import { startBroker, stopBroker } from '../support/broker';
import { expectConserved } from '../support/conservation';
import { startDistributedSystem, type DistributedSystem } from '../support/system';
import { until } from '../support/wait';
import { sleep } from '@app/platform';
import { defaultDispatcherOptions } from '@app/messaging';

/**
 * The distributed mode under failure, black box over HTTP plus control of the processes and
 * the broker: whatever goes down mid-stream, every order still ends CONFIRMED or CANCELLED and
 * money and stock are conserved; a dead-lettered message can be replayed or purged.
 * Always distributed (it starts its own processes); only the distributed e2e run includes
 * test/distributed/ (see scripts/test-all.mjs).
 */

describe('recovery (distributed: PostgreSQL + RabbitMQ)', () => {
  let sut: DistributedSystem;
  let api: Api;

  beforeAll(async () => {
    sut = await startDistributedSystem();
    api = new Api(sut);
  });
  afterAll(async () => {
    // Whatever happened in a test, the broker is left running for whoever comes next.
    try {
      await startBroker();
    } finally {
      await sut?.stop();
    }
  });

  const SETTLE_MS = 60_000;

  /**
   * A few customers and SKUs, one customer too poor for most orders and one SKU scarce, so
   * declines and stock compensations flow alongside confirmations.
   */
  async function world() {
    const customers = [uniq('cust'), uniq('cust'), uniq('cust'), uniq('poor')];
    const skus = [uniq('SKU'), uniq('SKU'), uniq('SCARCE')];
    const balances = new Map(customers.map((c, i) => [c, i === 3 ? 6 : 1000]));
    const stock = new Map(skus.map((s, i) => [s, i === 2 ? 8 : 500]));
    for (const [c, b] of balances) await api.account(c, b);
    for (const [s, n] of stock) await api.product(s, 3, n);
    let n = 0;
    const place = (count: number) =>
      Promise.all(
        Array.from({ length: count }, () => {
          const i = n++;
          return api.place(customers[i % customers.length], [{ sku: skus[i % skus.length], quantity: 1 + (i % 3) }]);
        }),
      );
    const settleAndCheck = async (ids: string[]) => {
      await Promise.all(ids.map((id) => api.settled(id, SETTLE_MS)));
      await quiet(() => Promise.all([...customers.map((c) => api.balance(c)), ...skus.map((s) => api.stock(s))]), 500, SETTLE_MS);
      return expectConserved(api, ids, balances, stock);
    };
    return { place, settleAndCheck };
  }

  it('loses nothing when the broker restarts mid-stream', async () => {
    const w = await world();
    const ids = await w.place(40);
    // Stopped while those 40 are flowing between the services.
    await stopBroker();
    try {
      // Orders are still accepted: they wait in Order's outbox until the broker is back.
      ids.push(...(await w.place(20)));
      await sleep(2000);
    } finally {
      await startBroker();
    }
    const { confirmed, cancelled } = await w.settleAndCheck(ids);
    expect(confirmed + cancelled).toBe(60);
    expect(confirmed).toBeGreaterThan(0);
  });

  it('loses nothing when services are killed mid-stream and restarted', async () => {
    const w = await world();
    const ids = await w.place(20);
    await sut.kill('payment', 'SIGKILL');
    ids.push(...(await w.place(15)));
    await sut.restart('payment');
    ids.push(...(await w.place(15)));
    await sut.kill('inventory', 'SIGKILL');
    ids.push(...(await w.place(10)));
    await sut.restart('inventory');
    const { confirmed, cancelled } = await w.settleAndCheck(ids);
    expect(confirmed + cancelled).toBe(60);
    expect(confirmed).toBeGreaterThan(0);
  });

  it('loses nothing when Order itself is killed mid-stream and restarted on another port', async () => {
    const w = await world();
    const ids = await w.place(30);
    await sut.kill('order', 'SIGKILL');
    await sut.restart('order');
    // Ports are free ones, so the restarted Order may well listen elsewhere; the api follows.
    expect(sut.urls.order).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    ids.push(...(await w.place(30)));
    const { confirmed, cancelled } = await w.settleAndCheck(ids);
    expect(confirmed + cancelled).toBe(60);
  });

  it('re-sends what Payment published but had not deleted when it was SIGKILLed, and the inbox absorbs the repeat', async () => {
    const customer = uniq('cust');
    const sku = uniq('SKU');
    await api.account(customer, 1000);
    await api.product(sku, 5, 100);
    const payment = new Pool({ connectionString: sut.databaseUrls.payment, max: 1 });
    const outboxRows = async () => Number((await payment.query('SELECT count(*)::int AS n FROM outbox_messages')).rows[0].n);
    try {
      // A test-only trigger makes the dispatcher's delete a no-op: the rows it published stay,
      // as if the process had died between the broker's confirm and the DELETE.
      await payment.query(`CREATE FUNCTION e2e_keep_outbox() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$`);
      await payment.query('CREATE TRIGGER e2e_keep_outbox BEFORE DELETE ON outbox_messages FOR EACH ROW EXECUTE FUNCTION e2e_keep_outbox()');
      const ids = await Promise.all(Array.from({ length: 5 }, () => api.place(customer, [{ sku, quantity: 1 }])));
      // Published: every order was confirmed on Payment's answers. Still in the outbox.
      for (const id of ids) expect((await api.settled(id, SETTLE_MS)).status).toBe('CONFIRMED');
      expect(await outboxRows()).toBeGreaterThanOrEqual(5);
      await sut.kill('payment', 'SIGKILL');
      await payment.query('DROP TRIGGER e2e_keep_outbox ON outbox_messages');
      await sut.restart('payment');
      // The restarted process's sweeper sends the left-behind rows again (they are older than
      // its threshold) and deletes them only once both channels have confirmed. The killed
      // process's own sweeper may have claimed them last (its deletes were no-ops, so it kept
      // re-sending rows past sweepAfterMs): that claim holds for leaseMs (30 s) after its death.
      // Rows it had written down on both channels are deleted as the new process starts.
      // What is left, as the failure says it: sent on which channel, claimed until when.
      const left = async () =>
        (await payment.query('SELECT id, published_at, streamed_at, bus_claimed_until, stream_claimed_until FROM outbox_messages ORDER BY id')).rows;
      await until(left, (r) => r.length === 0, defaultDispatcherOptions.leaseMs + 30_000, "Payment's left-behind outbox rows re-sent and deleted");
      await quiet(() => Promise.all([api.balance(customer), api.stock(sku)]), 500, SETTLE_MS);
      await expectConserved(api, ids, new Map([[customer, 1000]]), new Map([[sku, 100]]));
      for (const id of ids) {
        const lines = (await api.order(id)).timeline as Array<{ type: string; messageId: string }>;
        // The repeat reached Order's inbox and ended there: one PaymentAuthorized line, no "not applied" one.
        expect({ id, types: lines.map((l) => l.type).sort() }).toEqual({ id, types: ['OrderConfirmed', 'OrderPlaced', 'PaymentAuthorized', 'StockReserved'] });
      }
    } finally {
      await payment.query('DROP TRIGGER IF EXISTS e2e_keep_outbox ON outbox_messages').catch(() => undefined);
      await payment.end();
    }
  });

  describe("Payment's dead-letter queue", () => {
    const deadLetterOf = async (orderId: string) => {
      const r = await api.admin('payment', 'GET', '/api/admin/dead-letters');
      expect(r.status).toBe(200);
      return (r.body.items as Array<{ id: string; message: { key: string; type: string }; headers: Record<string, unknown>; failure: { error: string } }>).find(
        (d) => d.message.key === orderId,
      );
    };

    it('replays a dead letter once the cause is fixed, and the replay of a compensated order has no second effect', async () => {
      const sku = uniq('SKU');
      const customer = uniq('cust');
      await api.product(sku, 5, 10);
      // The simulated gateway fails every authorization for this account.
      await api.account(customer, 50, true);
      const id = await api.place(customer, [{ sku, quantity: 1 }]);
      expect(await api.settled(id, SETTLE_MS)).toMatchObject({ status: 'CANCELLED', cancellationReason: 'PROCESSING_FAILED' });

      const dead = (await until(() => deadLetterOf(id), Boolean, 10_000, `OrderPlaced of ${id} in payment's DLQ`))!;
      expect(dead.message.type).toBe('OrderPlaced');
      expect(dead.failure.error).toMatch(/gateway/i);
      // What the management UI shows under "Get messages" (README): why, how often, from where.
      expect(Object.keys(dead.headers)).toEqual(expect.arrayContaining(['x-last-error', 'x-attempts', 'x-original-routing-key']));

      await api.account(customer, 50, false);
      const replay = await api.admin('payment', 'POST', `/api/admin/dead-letters/${dead.id}/replay`);
      expect(replay.status).toBe(200);
      expect(replay.body.replayed).toBe(1);

      // Payment now sees the order was cancelled (its VOIDED tombstone) and declines it.
      const payment = await until(
        () => api.get('payment', `/api/payments?orderId=${id}`).then((r) => r.body.items[0]),
        (p) => p?.declineReason === 'ORDER_CANCELLED',
        SETTLE_MS,
        'the replayed OrderPlaced to be declined',
      );
      expect(payment).toMatchObject({ status: 'VOIDED', declineReason: 'ORDER_CANCELLED', refundedAmount: 0 });
      await quiet(() => Promise.all([api.balance(customer), api.order(id), deadLetterOf(id)]));
      expect(await deadLetterOf(id)).toBeUndefined();
      expect((await api.admin('payment', 'GET', '/api/admin/dead-letters')).body.count).toBe(0);
      expect(await api.balance(customer)).toBe(50);
      expect(await api.stock(sku)).toMatchObject({ available: 10, reserved: 0 });
      expect(await api.order(id)).toMatchObject({ status: 'CANCELLED', cancellationReason: 'PROCESSING_FAILED' });

      expect((await api.admin('payment', 'POST', `/api/admin/dead-letters/${dead.id}/replay`)).status).toBe(404);
    });

    it('purges dead letters', async () => {
      const sku = uniq('SKU');
      const customer = uniq('cust');
      await api.product(sku, 5, 10);
      await api.account(customer, 50, true);
      const ids = [await api.place(customer, [{ sku, quantity: 1 }]), await api.place(customer, [{ sku, quantity: 2 }])];
      for (const id of ids) await until(() => deadLetterOf(id), Boolean, SETTLE_MS, `OrderPlaced of ${id} in payment's DLQ`);

      const purge = await api.admin('payment', 'DELETE', '/api/admin/dead-letters');
      expect(purge.status).toBe(200);
      expect(purge.body.purged).toBe(2);
      expect((await api.admin('payment', 'GET', '/api/admin/dead-letters')).body).toMatchObject({ count: 0, items: [] });
      // Purging drops the messages, not the saga: both orders were cancelled and compensated.
      for (const id of ids) expect(await api.settled(id, SETTLE_MS)).toMatchObject({ status: 'CANCELLED', cancellationReason: 'PROCESSING_FAILED' });
      await quiet(() => Promise.all([api.balance(customer), api.stock(sku)]));
      expect(await api.balance(customer)).toBe(50);
      expect(await api.stock(sku)).toMatchObject({ available: 10, reserved: 0 });
    });
  });
});
