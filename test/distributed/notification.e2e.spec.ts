import { connect } from 'amqplib';
import { randomUUID } from 'node:crypto';
import { Api, uniq } from '../support/api';
import { startDistributedSystem, type DistributedSystem } from '../support/system';
import { until } from '../support/wait';

const rabbitmqUrl = process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/**
 * Notification and the versioned contracts in the distributed mode (PostgreSQL, RabbitMQ,
 * Kafka, Azurite, and an SMTP server in the test process): one email per outcome when
 * Notification is killed mid-stream, and OrderPlaced v1 messages (left in a queue and in Kafka
 * by the version before v2) still handled, archived and read after the upgrade.
 */
describe('notification and contract versions (distributed)', () => {
  let sut: DistributedSystem;
  let api: Api;

  beforeAll(async () => {
    sut = await startDistributedSystem({ ARCHIVE_BATCH_MAX_MS: '300' });
    api = new Api(sut);
  });
  afterAll(() => sut?.stop());

  const records = async (orderId: string) =>
    (await api.admin('notification', 'GET', `/api/notifications?orderId=${orderId}`)).body.items as Array<{
      status: string;
      outcome: string;
      messageId: string;
    }>;

  it('sends each outcome once after Notification is SIGKILLed mid-stream: the same Message-ID if a mail went out twice, never a missing one', async () => {
    const sku = uniq('SKU');
    const rich = uniq('cust');
    const poor = uniq('cust');
    await api.product(sku, 1, 1000);
    await api.account(rich, 1000);
    await api.account(poor, 0);
    const placing = Array.from({ length: 40 }, (_, i) =>
      api.request('order', 'POST', '/api/orders', { customerId: i % 4 === 0 ? poor : rich, items: [{ sku, quantity: 1 }], email: `c${i}@example.com` }),
    );
    // Kill it while the outcomes flow into its queue, then bring it back.
    await until(
      () => sut.smtp!.received.length,
      (n) => n >= 3,
      30_000,
      'the first mails',
    );
    await sut.kill('notification', 'SIGKILL');
    const ids = (await Promise.all(placing)).map((r) => r.body.orderId as string);
    await sut.restart('notification');
    for (const id of ids) await api.settled(id, 30_000);

    for (const id of ids) {
      const [record] = await until(
        () => records(id),
        (r) => r.length === 1 && r[0].status === 'SENT',
        30_000,
        `the outcome of ${id} to be sent`,
      );
      const mails = sut.smtp!.received.filter((m) => m.messageId?.startsWith(`<${id}.`));
      expect(mails.length).toBeGreaterThanOrEqual(1);
      // A repeat (the kill landed between the server taking a mail and its commit) carries the same Message-ID.
      expect(new Set(mails.map((m) => m.messageId))).toEqual(new Set([record.messageId]));
    }
    const repeats = ids.reduce((n, id) => n + sut.smtp!.received.filter((m) => m.messageId?.startsWith(`<${id}.`)).length - 1, 0);
    if (repeats > 0) process.stderr.write(`notification e2e: ${repeats} repeated mail(s) after the SIGKILL, each with its first's Message-ID\n`);
  });

  it('handles an OrderPlaced v1 left in Payment’s queue by the version before, upcast at the edge', async () => {
    const customer = uniq('cust');
    await api.account(customer, 100);
    const orderId = randomUUID();
    const v1 = orderPlacedV1(orderId, customer, 2, 1000);
    const connection = await connect(rabbitmqUrl);
    try {
      const channel = await connection.createConfirmChannel();
      channel.publish(`${sut.namespace}saga.events`, 'order.order-placed', Buffer.from(JSON.stringify(v1)), {
        persistent: true,
        messageId: v1.messageId,
        contentType: 'application/json',
      });
      await channel.waitForConfirms();
    } finally {
      await connection.close();
    }
    const [payment] = await until(
      async () => (await api.get('payment', `/api/payments?orderId=${orderId}`)).body.items,
      (items) => items?.length === 1,
      30_000,
      'Payment to handle the v1 message',
    );
    expect(payment).toMatchObject({ status: 'AUTHORIZED', amount: 20, customerId: customer });
    expect(await api.balance(customer)).toBe(80);
    expect((await api.admin('payment', 'GET', '/api/admin/dead-letters')).body.count).toBe(0);
  });

  it('archives an OrderPlaced v1 left in Kafka, and reads it back as stored (v1) or as the newest version (v2)', async () => {
    const orderId = randomUUID();
    const v1 = orderPlacedV1(orderId, 'legacy', 3, 500);
    await sut.produceToStream('order-events', [{ key: orderId, value: JSON.stringify(v1), headers: { 'message-id': v1.messageId } }]);
    const blobWith = async () => {
      const list = (await api.get('analytics', '/api/analytics/archives?limit=1000')).body.items as Array<{ name: string; topic: string }>;
      for (const b of list.filter((x) => x.topic === 'order-events')) {
        const text = (await api.get('analytics', `/api/analytics/archives/${b.name}`)).body as unknown;
        if (typeof text === 'string' ? text.includes(v1.messageId) : JSON.stringify(text).includes(v1.messageId)) return b.name;
      }
      return null;
    };
    // A line of a blob: read as an event of its own version, not as poison (which has no line).
    const name = await until(blobWith, Boolean, 30_000, 'the v1 event to be archived');
    const line = async (as: string) => {
      const res = await fetch(`${sut.urls.analytics}/api/analytics/archives/${name}?as=${as}`);
      expect(res.status).toBe(200);
      const entries = (await res.text())
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { event: { messageId: string; version: number; payload: Record<string, unknown> } });
      return entries.find((e) => e.event.messageId === v1.messageId)!.event;
    };
    expect(await line('stored')).toMatchObject({ version: 1, payload: v1.payload });
    expect(await line('newest')).toMatchObject({
      version: 2,
      payload: { ...v1.payload, items: [{ sku: 'KB-001', quantity: 3, unitPrice: 500, lineTotal: 1500 }], email: null },
    });
  });
});

/** An OrderPlaced as version 1 wrote it (no line totals, no email), for one line of KB-001. */
function orderPlacedV1(orderId: string, customerId: string, quantity: number, unitPrice: number) {
  return {
    messageId: randomUUID(),
    type: 'OrderPlaced',
    version: 1,
    occurredAt: new Date().toISOString(),
    correlationId: orderId,
    causationId: null,
    source: 'order',
    key: orderId,
    payload: { orderId, customerId, items: [{ sku: 'KB-001', quantity, unitPrice }], total: quantity * unitPrice, currency: 'USD' },
  };
}
