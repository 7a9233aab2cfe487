import { uniq, type Api } from '../support/api';
import { between, pick, type Random } from './random';

/** Cents per unit of every product, and what each customer and SKU starts with. */
const UNIT_PRICE = 2;
const BALANCE = 1_000_000;

/**
 * The customers and SKUs of one soak, and the order mix: most customers can pay; some cannot
 * (declines); some are flagged so that the gateway fails for them (their OrderPlaced is retried,
 * then dead-lettered, and the order cancelled with PROCESSING_FAILED); one SKU has no stock
 * (stock-outs, compensated).
 */
export class World {
  readonly balances = new Map<string, number>();
  readonly stock = new Map<string, number>();
  private constructor(
    readonly payers: string[],
    readonly broke: string[],
    readonly failing: string[],
    readonly skus: string[],
    readonly empty: string,
    private readonly shares: { declineShare: number; stockoutShare: number; gatewayErrorShare: number },
  ) {}

  static async seed(api: Api, shares: { declineShare: number; stockoutShare: number; gatewayErrorShare: number }): Promise<World> {
    const prefix = uniq('chaos');
    const w = new World(
      Array.from({ length: 20 }, (_, i) => `${prefix}-pay${i}`),
      Array.from({ length: 4 }, (_, i) => `${prefix}-broke${i}`),
      Array.from({ length: 2 }, (_, i) => `${prefix}-gwfail${i}`),
      Array.from({ length: 8 }, (_, i) => `CHAOS-${prefix.slice(6)}-${i}`),
      `CHAOS-${prefix.slice(6)}-EMPTY`,
      shares,
    );
    for (const c of w.payers) await api.account(c, BALANCE);
    for (const c of w.broke) await api.account(c, 0);
    for (const c of w.failing) await api.account(c, BALANCE, true);
    for (const c of [...w.payers, ...w.broke, ...w.failing]) w.balances.set(c, c.includes('-broke') ? 0 : BALANCE);
    for (const s of w.skus) {
      await api.product(s, UNIT_PRICE, 1_000_000);
      w.stock.set(s, 1_000_000);
    }
    await api.product(w.empty, UNIT_PRICE, 0);
    w.stock.set(w.empty, 0);
    return w;
  }

  /** One order of the mix. */
  nextOrder(random: Random): { customerId: string; items: Array<{ sku: string; quantity: number }> } {
    const roll = random();
    const { declineShare, stockoutShare, gatewayErrorShare } = this.shares;
    const items = [{ sku: pick(random, this.skus), quantity: Math.floor(between(random, 1, 4)) }];
    if (roll < declineShare) return { customerId: pick(random, this.broke), items };
    if (roll < declineShare + gatewayErrorShare) return { customerId: pick(random, this.failing), items };
    if (roll < declineShare + gatewayErrorShare + stockoutShare)
      return { customerId: pick(random, this.payers), items: [...items, { sku: this.empty, quantity: 1 }] };
    return { customerId: pick(random, this.payers), items };
  }

  get customers(): string[] {
    return [...this.balances.keys()];
  }

  isFailingCustomer(customerId: string): boolean {
    return this.failing.includes(customerId);
  }
}
