import { Decimal } from 'decimal.js';
import { type PaperPair } from './catalogue';
import { SeededRandom } from './random';

export type PaperOrderType = 'market' | 'limit' | 'stop-loss' | 'take-profit' | 'stop-loss-limit' | 'take-profit-limit';
export type PaperOrderStatus = 'pending' | 'open' | 'closed' | 'canceled' | 'expired';
export type PaperSide = 'buy' | 'sell';
export type TimeInForce = 'GTC' | 'IOC' | 'GTD';

/** An AddOrder request that passed every argument check (funds, limits and post-only come later). */
export interface OrderTerms {
  readonly pair: PaperPair;
  readonly side: PaperSide;
  readonly orderType: PaperOrderType;
  readonly volume: Decimal;
  /** Limit price (limit) or trigger price (stop / take-profit types). */
  readonly price: Decimal | null;
  /** Limit price of the -limit types once triggered. */
  readonly price2: Decimal | null;
  readonly clOrdId: string | null;
  readonly userref: number | null;
  /** As Kraken shows them, the implicit fee flag included (`fciq` for buys, `fcib` for sells). */
  readonly oflags: readonly string[];
  readonly postOnly: boolean;
  /** The fee is taken from the base asset the buy receives (explicit `fcib` on a buy); otherwise from quote. */
  readonly feeInBase: boolean;
  readonly timeInForce: TimeInForce;
  /** Epoch ms. */
  readonly expiresAt: number | null;
  readonly validate: boolean;
}

/** An order as the paper engine keeps it. Identity and terms are fixed; execution state moves. */
export interface PaperOrder extends Omit<OrderTerms, 'validate'> {
  readonly txid: string;
  /** Epoch ms. */
  readonly openedAt: number;
  /** The key that placed it (inspection only). */
  readonly apiKey: string;
  status: PaperOrderStatus;
  volExec: Decimal;
  /** Quote cost of what executed. */
  cost: Decimal;
  /** Fee in quote terms. */
  fee: Decimal;
  closedAt: number | null;
  reason: string | null;
  /** A stop / take-profit whose trigger was hit: it now executes as a market (or limit at `price2`). */
  triggered: boolean;
  misc: string[];
  trades: string[];
}

export const isOpen = (o: PaperOrder): boolean => o.status === 'open' || o.status === 'pending';
export const remaining = (o: PaperOrder): Decimal => o.volume.minus(o.volExec);
export const isTriggerType = (t: PaperOrderType): boolean => t !== 'market' && t !== 'limit';

/** Ids in Kraken's observed shape: `OUF4EM-FRGI2-MQMWZD` for orders, `THVRQM-33VKH-UCI7BS` for trades. */
export class IdMint {
  private readonly random: SeededRandom;
  private readonly used = new Set<string>();

  constructor(seed: number) {
    this.random = SeededRandom.derive(seed, 'ids');
  }

  orderId(): string {
    return this.fresh('O');
  }

  tradeId(): string {
    return this.fresh('T');
  }

  private fresh(prefix: string): string {
    for (;;) {
      const id = `${prefix}${this.chars(5)}-${this.chars(5)}-${this.chars(6)}`;
      if (!this.used.has(id)) {
        this.used.add(id);
        return id;
      }
    }
  }

  private chars(n: number): string {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet.charAt(this.random.int(alphabet.length));
    return s;
  }
}

/** Every order ever accepted, with the indexes the endpoints need. */
export class OrderBook {
  private readonly all: PaperOrder[] = [];
  private readonly byTxid = new Map<string, PaperOrder>();
  /** Open orders in time priority (Map keeps insertion order). */
  private readonly openOrders = new Map<string, PaperOrder>();
  private readonly byClOrdId = new Map<string, PaperOrder[]>();

  add(order: PaperOrder): void {
    this.all.push(order);
    this.byTxid.set(order.txid, order);
    if (isOpen(order)) this.openOrders.set(order.txid, order);
    if (order.clOrdId !== null) {
      const list = this.byClOrdId.get(order.clOrdId) ?? [];
      list.push(order);
      this.byClOrdId.set(order.clOrdId, list);
    }
  }

  /** Call after an order's status changed so the open index follows. */
  settle(order: PaperOrder): void {
    if (isOpen(order)) this.openOrders.set(order.txid, order);
    else this.openOrders.delete(order.txid);
  }

  get(txid: string): PaperOrder | undefined {
    return this.byTxid.get(txid);
  }

  /** A copy: safe to iterate while orders close. */
  open(): PaperOrder[] {
    return [...this.openOrders.values()];
  }

  /** A live view, for read-only loops. */
  openValues(): IterableIterator<PaperOrder> {
    return this.openOrders.values();
  }

  openCount(pairKey: string): number {
    let n = 0;
    for (const o of this.openOrders.values()) if (o.pair.key === pairKey) n++;
    return n;
  }

  openWithClOrdId(clOrdId: string): PaperOrder | undefined {
    return this.byClOrdId.get(clOrdId)?.find(isOpen);
  }

  withClOrdId(clOrdId: string): readonly PaperOrder[] {
    return this.byClOrdId.get(clOrdId) ?? [];
  }

  everything(): readonly PaperOrder[] {
    return this.all;
  }

  closed(): PaperOrder[] {
    return this.all.filter((o) => !isOpen(o));
  }
}
