import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Api, uniq } from './support/api';
import { startSystem, type SystemUnderTest } from './support/system';
import { until } from './support/wait';

type Listed = { id: string; routingKey: string; message: unknown; headers: Record<string, unknown>; failure: { error: string; attempts: number } };

/**
 * A record on the event stream that Analytics cannot read: through the retry topic to the
 * dead-letter topic, parked, and then Analytics' dead letter like any service's, in its admin
 * API (admin only) and in the console's failed messages; replayed, it passes through the retry
 * topic again, and purged, it is gone.
 */
describe('analytics dead letters', () => {
  let sut: SystemUnderTest;
  let api: Api;

  beforeAll(async () => {
    sut = await startSystem({ ARCHIVE_RETRY_DELAY_MS: '100', CONSOLE_AUDIT_LOG: join(tmpdir(), `${uniq('audit')}.log`) });
    api = new Api(sut);
  });
  afterAll(() => sut?.stop());

  /** `saga_dead_letters_parked{store="stream"}` on Analytics' /metrics: the parked rows. */
  const parkedGauge = async () => {
    const text = await (await fetch(`${sut.urls.analytics}/metrics`)).text();
    return Number(/^saga_dead_letters_parked\{[^}]*store="stream"[^}]*\} (\d+)$/m.exec(text)?.[1] ?? NaN);
  };

  const parkedFor = async (orderId: string, accept: (d: Listed) => boolean = () => true) => {
    const page = await until(
      () => api.admin<{ items: Listed[] }>('analytics', 'GET', '/api/admin/dead-letters?limit=200'),
      (r) => r.status === 200 && r.body.items.some((d) => d.headers['kafka-key'] === orderId && accept(d)),
      30_000,
      `a dead letter of ${orderId} in Analytics' admin API`,
    );
    return page.body.items.find((d) => d.headers['kafka-key'] === orderId && accept(d))!;
  };

  it('lists a poison record of the stream, shows it in the console, replays it through the retry topic and purges it', async () => {
    const orderId = randomUUID();
    const messageId = uniq('poison');
    await sut.produceToStream('order-events', [
      { key: orderId, value: '{"truncated": ', headers: { 'message-id': messageId, 'message-type': 'OrderPlaced', source: 'order' } },
    ]);

    const dead = await parkedFor(orderId);
    expect(dead).toMatchObject({
      id: expect.stringMatching(/^analytics:\d+$/),
      queue: 'analytics',
      routingKey: 'order-events',
      message: '{"truncated": ',
      failure: { error: 'not valid JSON', attempts: 2 },
      headers: { 'message-id': messageId, 'x-original-topic': 'order-events' },
    });
    expect((await api.admin('analytics', 'GET', `/api/admin/dead-letters/${dead.id}`)).body).toEqual(dead);
    expect(await parkedGauge()).toBe(1);
    // Admin only, like every service's.
    expect((await api.get('analytics', '/api/admin/dead-letters')).status).toBe(401);
    expect((await api.request('analytics', 'POST', `/api/admin/dead-letters/${dead.id}/replay`)).status).toBe(401);
    expect((await api.request('analytics', 'DELETE', `/api/admin/dead-letters/${dead.id}`)).status).toBe(401);
    expect((await api.admin('analytics', 'GET', '/api/admin/dead-letters/analytics:999999999')).status).toBe(404);
    expect((await api.admin('analytics', 'GET', '/api/admin/dead-letters/not%20an%20id')).status).toBe(400);

    if (sut.urls.console) {
      // The console's failed messages list it among every service's, read by its headers.
      const signIn = await fetch(`${sut.urls.console}/api/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token: sut.adminToken, name: 'e2e' }),
      });
      expect(signIn.status).toBe(200);
      const cookie = signIn.headers.get('set-cookie')!.split(';')[0];
      const res = await fetch(`${sut.urls.console}/api/failed-messages`, { headers: { cookie } });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { groups: Array<{ messages: Array<Record<string, unknown>> }> };
      expect(body.groups.flatMap((g) => g.messages).find((m) => m.id === dead.id)).toMatchObject({
        service: 'analytics',
        messageType: 'OrderPlaced',
        messageId,
        orderId,
        errorType: 'not valid JSON',
      });
    }

    // Replayed: gone, back through the retry topic, and (poison still) parked again, one attempt more.
    expect((await api.admin('analytics', 'POST', `/api/admin/dead-letters/${dead.id}/replay`)).body).toEqual({ queue: 'analytics', replayed: 1 });
    expect((await api.admin('analytics', 'GET', `/api/admin/dead-letters/${dead.id}`)).status).toBe(404);
    const again = await parkedFor(orderId, (d) => d.id !== dead.id);
    expect(again.failure.attempts).toBe(3);

    expect((await api.admin('analytics', 'DELETE', `/api/admin/dead-letters/${again.id}`)).body).toEqual({ queue: 'analytics', purged: 1 });
    const after = await api.admin<{ items: Listed[] }>('analytics', 'GET', '/api/admin/dead-letters?limit=200');
    expect(after.body.items.filter((d) => d.headers['kafka-key'] === orderId)).toEqual([]);
    expect(await parkedGauge()).toBe(0);
  });
});
