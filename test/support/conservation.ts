import type { Api } from './api';

/**
 * Money and stock are conserved once the system is quiet: for every customer, initial balance
 * minus the totals of CONFIRMED orders is the balance; for every SKU, initial stock minus the
 * quantities of CONFIRMED orders is what is available, and nothing stays reserved except for
 * CONFIRMED orders.
 */
export async function expectConserved(
  api: Api,
  orderIds: string[],
  initialBalances: Map<string, number>,
  initialStock: Map<string, number>,
): Promise<{ confirmed: number; cancelled: number }> {
  const orders = await Promise.all(orderIds.map((id) => api.order(id)));
  const spent = new Map<string, number>();
  const taken = new Map<string, number>();
  let confirmed = 0;
  let cancelled = 0;
  for (const o of orders) {
    expect(['CONFIRMED', 'CANCELLED']).toContain(o.status);
    if (o.status === 'CANCELLED') cancelled++;
    if (o.status !== 'CONFIRMED') continue;
    confirmed++;
    spent.set(o.customerId, (spent.get(o.customerId) ?? 0) + Math.round(o.total * 100));
    for (const i of o.items) taken.set(i.sku, (taken.get(i.sku) ?? 0) + i.quantity);
  }
  for (const [customer, initial] of initialBalances) {
    const balance = Math.round((await api.balance(customer)) * 100);
    expect({ customer, balance }).toEqual({ customer, balance: Math.round(initial * 100) - (spent.get(customer) ?? 0) });
  }
  for (const [sku, initial] of initialStock) {
    const s = await api.stock(sku);
    expect({ sku, ...s }).toEqual({ sku, available: initial - (taken.get(sku) ?? 0), reserved: taken.get(sku) ?? 0 });
  }
  return { confirmed, cancelled };
}
