import { Decimal } from 'decimal.js';
import { type PaperTrade } from './engine';
import { type PaperOrder, type PaperOrderStatus, type PaperOrderType, type PaperSide } from './orders';
import { type TrafficStats } from './server';
import { type Venue } from './venue';

/** A read-only copy of one paper order, for tests. */
export interface InspectedOrder {
  readonly txid: string;
  readonly clOrdId: string | null;
  readonly userref: number | null;
  /** Canonical pair key, e.g. `XXBTZUSD`. */
  readonly pair: string;
  readonly side: PaperSide;
  readonly orderType: PaperOrderType;
  readonly status: PaperOrderStatus;
  readonly volume: Decimal;
  readonly volumeExecuted: Decimal;
  readonly cost: Decimal;
  readonly fee: Decimal;
  readonly price: Decimal | null;
  readonly price2: Decimal | null;
  readonly postOnly: boolean;
  readonly triggered: boolean;
  /** Epoch ms (paper clock). */
  readonly openedAt: number;
  readonly closedAt: number | null;
  readonly reason: string | null;
  readonly trades: readonly string[];
}

export interface InspectedTrade {
  readonly id: string;
  readonly orderTxid: string;
  readonly pair: string;
  readonly side: PaperSide;
  readonly price: Decimal;
  readonly volume: Decimal;
  readonly cost: Decimal;
  readonly fee: Decimal;
  readonly maker: boolean;
  readonly time: number;
}

export interface InspectedBalance {
  readonly balance: Decimal;
  /** Held by open orders. */
  readonly hold: Decimal;
}

/** Everything a test may want to know about the paper exchange, without going through its HTTP API. */
export interface PaperInspector {
  /** Every order ever accepted, in acceptance order. */
  orders(): readonly InspectedOrder[];
  order(txid: string): InspectedOrder | undefined;
  /** Every accepted order that carried this `cl_ord_id` (more than one only if it was reused after closing). */
  ordersByClOrdId(clOrdId: string): readonly InspectedOrder[];
  /** How many AddOrder calls with this `cl_ord_id` were accepted. */
  acceptedCount(clOrdId: string): number;
  openOrders(): readonly InspectedOrder[];
  trades(): readonly InspectedTrade[];
  /** Per asset id (`ZUSD`, `XXBT`, …). */
  balances(): ReadonlyMap<string, InspectedBalance>;
  balance(asset: string): InspectedBalance;
  /** Requests received per Kraken method name (faulted ones included; unknown paths under their name). */
  requestCounts(): ReadonlyMap<string, number>;
  requestCount(method: string): number;
  /** `EAPI:Rate limit exceeded` (rest) and `EOrder:Rate limit exceeded` (trading) errors returned. */
  rateLimitErrors(): { readonly rest: number; readonly trading: number };
  /** `EAPI:Rate limit exceeded` answers to public calls (the per-IP public counter). */
  publicRateLimitErrors(): number;
  /** Last, bid and ask of a pair (any of its names). */
  quote(pair: string): { readonly last: Decimal; readonly bid: Decimal; readonly ask: Decimal };
  /** The paper clock, epoch ms. */
  now(): number;
}

const copyOrder = (o: PaperOrder): InspectedOrder => ({
  txid: o.txid,
  clOrdId: o.clOrdId,
  userref: o.userref,
  pair: o.pair.key,
  side: o.side,
  orderType: o.orderType,
  status: o.status,
  volume: o.volume,
  volumeExecuted: o.volExec,
  cost: o.cost,
  fee: o.fee,
  price: o.price,
  price2: o.price2,
  postOnly: o.postOnly,
  triggered: o.triggered,
  openedAt: o.openedAt,
  closedAt: o.closedAt,
  reason: o.reason,
  trades: [...o.trades],
});

const copyTrade = (t: PaperTrade): InspectedTrade => ({
  id: t.id,
  orderTxid: t.orderTxid,
  pair: t.pair.key,
  side: t.side,
  price: t.price,
  volume: t.volume,
  cost: t.cost,
  fee: t.fee,
  maker: t.maker,
  time: t.time,
});

/**
 * The inspection API over a venue and whatever counts its requests (the HTTP server, or the in-process transport
 * of `kraken-rx-execution/testing`).
 */
export function createInspector(venue: Venue, server: { readonly traffic: TrafficStats }): PaperInspector {
  // Reading the state first applies what time has decided (expiry, the dead man's switch).
  const current = (): Venue => {
    venue.catchUp(venue.now());
    return venue;
  };
  const balanceOf = (v: Venue, asset: string, holds: ReadonlyMap<string, Decimal>): InspectedBalance => ({
    balance: v.ledger.balance(asset),
    hold: holds.get(asset) ?? new Decimal(0),
  });
  return {
    orders: () => current().book.everything().map(copyOrder),
    order: (txid) => {
      const o = current().book.get(txid);
      return o ? copyOrder(o) : undefined;
    },
    ordersByClOrdId: (clOrdId) => current().book.withClOrdId(clOrdId).map(copyOrder),
    acceptedCount: (clOrdId) => venue.acceptedByClOrdId.get(clOrdId) ?? 0,
    openOrders: () => current().book.open().map(copyOrder),
    trades: () => venue.engine.trades().map(copyTrade),
    balances: () => {
      const v = current();
      const holds = v.engine.holds();
      return new Map(v.ledger.assets().map((a) => [a, balanceOf(v, a, holds)]));
    },
    balance: (asset) => {
      const v = current();
      const id = v.catalogue.findAsset(asset)?.id ?? asset;
      return balanceOf(v, id, v.engine.holds());
    },
    requestCounts: () => new Map(server.traffic.requests),
    requestCount: (method) => server.traffic.requests.get(method) ?? 0,
    rateLimitErrors: () => ({ rest: venue.rateLimitErrors.rest, trading: venue.rateLimitErrors.trading }),
    publicRateLimitErrors: () => venue.rateLimitErrors.public,
    quote: (pair) => {
      const p = venue.catalogue.find(pair);
      if (!p) throw new Error(`paper exchange: unknown pair ${pair}`);
      return venue.market.quote(p.key);
    },
    now: () => venue.now(),
  };
}
