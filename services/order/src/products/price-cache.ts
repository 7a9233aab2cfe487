import { Inject, Injectable } from '@nestjs/common';
import { SQL_DATABASE } from '@app/messaging';
import type { Dialect, SqlDatabase } from '@app/persistence';

export interface CachedPrice {
  unitPrice: number;
  /** The product row's `updated_at` as text: what the order insert checks is still current. */
  version: string;
}

export const priceSql = {
  load(d: Dialect): string {
    return d === 'postgres'
      ? 'SELECT sku, unit_price, updated_at::text AS version FROM products WHERE sku = ANY($1::text[])'
      : 'SELECT sku, unit_price, CONVERT(nvarchar(40), updated_at, 127) AS version FROM products WHERE sku IN (SELECT value FROM OPENJSON(@0))';
  },
};

/**
 * Product prices, kept in memory so that placing an order reads none. A price change made
 * here (PUT /api/products) drops its entry; one made by another instance is caught by the
 * order insert itself, which inserts nothing when a price it was given is no longer the row's
 * (`version`), and the batch is priced again. SKUs that do not exist are not remembered: a
 * product created elsewhere is found on the next order.
 */
@Injectable()
export class PriceCache {
  private readonly prices = new Map<string, CachedPrice>();

  constructor(@Inject(SQL_DATABASE) private readonly db: SqlDatabase) {}

  /** Prices of the SKUs that exist (one statement for those not in memory). */
  async get(skus: Iterable<string>): Promise<Map<string, CachedPrice>> {
    const wanted = [...new Set(skus)];
    const missing = wanted.filter((s) => !this.prices.has(s));
    if (missing.length) {
      const rows = await this.db.query<{ sku: string; unit_price: string | number; version: string }>(
        priceSql.load(this.db.dialect),
        [this.db.dialect === 'postgres' ? missing : JSON.stringify(missing)],
        { prepare: true },
      );
      for (const r of rows) this.prices.set(r.sku, { unitPrice: Number(r.unit_price), version: r.version });
    }
    return new Map(wanted.filter((s) => this.prices.has(s)).map((s) => [s, this.prices.get(s)!]));
  }

  forget(skus: Iterable<string>): void {
    for (const s of skus) this.prices.delete(s);
  }
}
