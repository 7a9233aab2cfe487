import { randomBytes } from 'node:crypto';
import type { SystemUnderTest } from './system';
import { until } from './wait';
import { sleep } from '@app/platform';

type Service = keyof SystemUnderTest['urls'];

export interface Reply<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export function uniq(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/**
 * fetch, retried once when a pooled keep-alive socket turns out to be closed by the server
 * (the request never reached a handler), and only where a retry is safe: reads, and writes
 * that carry an Idempotency-Key. A service that is really down still fails the second try.
 */
async function fetchOnce(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const staleSocket = cause?.code === 'UND_ERR_SOCKET' || cause?.code === 'ECONNRESET' || /other side closed/.test(cause?.message ?? '');
    const headers = (init.headers ?? {}) as Record<string, string>;
    const safe = (init.method ?? 'GET') === 'GET' || Object.keys(headers).some((h) => h.toLowerCase() === 'idempotency-key');
    if (!staleSocket || !safe) throw err;
    return fetch(url, init);
  }
}

/** A small HTTP client over the system's public API, admin calls carrying the token. */
export class Api {
  constructor(private readonly sut: SystemUnderTest) {}

  async request<T = any>(service: Service, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply<T>> {
    const init: RequestInit = { method, headers: { ...headers } };
    if (body !== undefined) {
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
    }
    const res = await fetchOnce(`${this.sut.urls[service]}${path}`, init);
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // non-JSON bodies stay text
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  get<T = any>(service: Service, path: string) {
    return this.request<T>(service, 'GET', path);
  }

  admin<T = any>(service: Service, method: string, path: string, body?: unknown) {
    return this.request<T>(service, method, path, body, { authorization: `Bearer ${this.sut.adminToken}` });
  }

  async product(sku: string, unitPrice: number, stock: number): Promise<void> {
    expectOk(await this.admin('order', 'PUT', `/api/products/${sku}`, { name: `Product ${sku}`, unitPrice }));
    expectOk(await this.admin('inventory', 'PUT', `/api/stock/${sku}`, { available: stock }));
  }

  async account(customerId: string, balance: number, simulateGatewayError = false): Promise<void> {
    expectOk(await this.admin('payment', 'PUT', `/api/accounts/${customerId}`, { balance, simulateGatewayError }));
  }

  /**
   * The customers and products of a saga run of known shape: `sku` (20 in stock at 10) and
   * `scarce` (1 at 10); `rich` (500) pays, `poor` (5) is declined, `broken`'s payment gateway
   * fails until the message is dead-lettered.
   */
  async cast(): Promise<{ sku: string; scarce: string; rich: string; poor: string; broken: string }> {
    const cast = { sku: uniq('SKU'), scarce: uniq('SKU'), rich: uniq('cust'), poor: uniq('cust'), broken: uniq('cust') };
    await this.product(cast.sku, 10, 20);
    await this.product(cast.scarce, 10, 1);
    await this.account(cast.rich, 500);
    await this.account(cast.poor, 5);
    await this.account(cast.broken, 500, true);
    return cast;
  }

  async placeOrder(customerId: string, items: Array<{ sku: string; quantity: number }>, headers: Record<string, string> = {}) {
    return this.request('order', 'POST', '/api/orders', { customerId, items }, headers);
  }

  async place(customerId: string, items: Array<{ sku: string; quantity: number }>): Promise<string> {
    const r = await this.placeOrder(customerId, items, { 'idempotency-key': uniq('place') });
    if (r.status !== 202) throw new Error(`order not accepted: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.orderId;
  }

  order(orderId: string) {
    return this.get('order', `/api/orders/${orderId}`).then((r) => r.body);
  }

  async settled(orderId: string, timeoutMs = 15_000) {
    return until(
      () => this.order(orderId),
      (o) => o?.status === 'CONFIRMED' || o?.status === 'CANCELLED',
      timeoutMs,
      `order ${orderId} to settle`,
    );
  }

  /**
   * Runs an archive verification (an admin starts it, it runs in the background) and answers
   * its report once it is done; null while one is already running, or while Analytics cannot
   * start one (503: the stream is not ready, e.g. just after a Kafka restart).
   */
  async verifyArchive(timeoutMs = 20_000): Promise<any> {
    const started = await this.admin('analytics', 'POST', '/api/analytics/archives/verifications', {});
    if (started.status === 409 || started.status === 503) return null;
    if (started.status !== 202) throw new Error(`verification not started: ${started.status} ${JSON.stringify(started.body)}`);
    const job = await until(
      () => this.get('analytics', started.headers.get('location')!).then((r) => r.body),
      (b) => b?.status !== 'running',
      timeoutMs,
      'the archive verification',
    );
    if (job.status !== 'done') throw new Error(`verification ${job.status}: ${job.error}`);
    return job.report;
  }

  balance(customerId: string): Promise<number> {
    return this.get('payment', `/api/accounts/${customerId}`).then((r) => r.body.balance);
  }

  stock(sku: string): Promise<{ available: number; reserved: number }> {
    return this.get('inventory', `/api/stock/${sku}`).then((r) => r.body);
  }
}

function expectOk(r: Reply): void {
  if (r.status >= 300) throw new Error(`setup call failed: ${r.status} ${JSON.stringify(r.body)}`);
}

/** Waits until nothing changes any more: the same orders and balances twice in a row. */
export async function quiet(read: () => Promise<unknown>, settleMs = 300, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last = JSON.stringify(await read());
  for (;;) {
    await sleep(settleMs);
    const now = JSON.stringify(await read());
    if (now === last) return;
    if (Date.now() > end) throw new Error('system did not go quiet');
    last = now;
  }
}
