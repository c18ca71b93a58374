import { Decimal } from 'decimal.js';
import { type ExecutionConfig } from '../model/config';
import { type ExecutionFeed, type FeedOrder, type FeedOrderStatus, type FeedTrade } from '../model/feed';
import { type ExchangeOrderStatus, type OrderSnapshot } from '../model/order';
import { type Side } from '../model/signal';

/**
 * Merging what two sources say about one order (REST snapshots and the push feed's events) so that its state
 * only moves forward, whichever source saw a change first (design.md §9). Pure functions; the monitor keeps
 * the state.
 */

/** One OpenOrders audit a minute while the feed is up, unless `config.feed.auditIntervalMs` says otherwise. */
export const DEFAULT_AUDIT_INTERVAL_MS = 60_000;

/** The feed to use: given, and not switched off by `config.feed.mode: 'rest'`. */
export const activeFeed = (config: ExecutionConfig, feed: ExecutionFeed | undefined): ExecutionFeed | undefined =>
  config.feed?.mode === 'rest' ? undefined : feed;

/** pending < open < final: a status never moves back down this order. */
export const statusRank = (status: ExchangeOrderStatus): number => (status === 'pending' ? 0 : status === 'open' ? 1 : 2);

const FEED_STATUS: Readonly<Record<FeedOrderStatus, ExchangeOrderStatus>> = {
  pending: 'pending',
  open: 'open',
  'partially-filled': 'open',
  filled: 'closed',
  canceled: 'canceled',
  expired: 'expired',
};

const ZERO = new Decimal(0);

/**
 * What is known of `known` and `next` together, never less than either: the higher status (pending < open <
 * final; the first final seen stays), the larger executed volume with the cost, fee and average price that go
 * with it (fee: the larger when the volumes are equal). The order's terms come from `known`.
 * Returns `known` itself when `next` adds nothing, `next` itself when it is ahead in everything.
 */
export function mergeForward(known: OrderSnapshot | null, next: OrderSnapshot): OrderSnapshot {
  if (known === null) return next;
  const statusAhead = statusRank(next.status) > statusRank(known.status);
  const volumeCmp = next.volumeExecuted.cmp(known.volumeExecuted);
  const feeAhead = volumeCmp === 0 && next.fee.gt(known.fee);
  if (!statusAhead && volumeCmp <= 0 && !feeAhead) return known;
  if ((statusAhead || next.status === known.status) && volumeCmp >= 0 && next.fee.gte(known.fee)) return next;
  const figures = volumeCmp > 0 ? next : known;
  const status = statusAhead ? next : known;
  return {
    ...known,
    status: status.status,
    closedAt: status.closedAt,
    reason: status.reason,
    volumeExecuted: figures.volumeExecuted,
    cost: figures.cost,
    averagePrice: figures.averagePrice,
    fee: Decimal.max(known.fee, next.fee),
  };
}

/** What the feed has told about one order: its events folded (sparse fields kept once heard), its fills by trade id. */
export interface FeedKnowledge {
  readonly txid: string;
  readonly clientOrderId: string | null;
  readonly pair: string | null;
  readonly side: Side | null;
  readonly orderType: string | null;
  readonly volume: Decimal | null;
  readonly limitPrice: Decimal | null;
  /** Highest status heard (by rank); null when only fills were heard. */
  readonly status: ExchangeOrderStatus | null;
  readonly reason: string | null;
  /** A final status was heard from an event that carried the cumulative figures (they are then final too). */
  readonly finalFigures: boolean;
  /** Largest cumulative executed volume an order event carried, with its cost and average price. */
  readonly volumeExecuted: Decimal | null;
  readonly cost: Decimal | null;
  readonly averagePrice: Decimal | null;
  /** Every distinct fill heard: the same trade id twice counts once. */
  readonly tradeIds: ReadonlySet<string>;
  readonly tradeVolume: Decimal;
  readonly tradeCost: Decimal;
  readonly tradeFee: Decimal;
  readonly firstAt: number | null;
  readonly lastAt: number | null;
}

const empty = (txid: string): FeedKnowledge => ({
  txid,
  clientOrderId: null,
  pair: null,
  side: null,
  orderType: null,
  volume: null,
  limitPrice: null,
  status: null,
  reason: null,
  finalFigures: false,
  volumeExecuted: null,
  cost: null,
  averagePrice: null,
  tradeIds: new Set(),
  tradeVolume: ZERO,
  tradeCost: ZERO,
  tradeFee: ZERO,
  firstAt: null,
  lastAt: null,
});

/** One order event folded in: fields it carried replace unknown ones, status and executed volume only move forward. */
export function absorbOrder(known: FeedKnowledge | undefined, order: FeedOrder): FeedKnowledge {
  const k = known ?? empty(order.txid);
  const status = FEED_STATUS[order.status];
  const statusAhead = k.status === null || statusRank(status) > statusRank(k.status);
  const volumeAhead = order.volumeExecuted !== null && (k.volumeExecuted === null || order.volumeExecuted.gt(k.volumeExecuted));
  return {
    ...k,
    clientOrderId: k.clientOrderId ?? order.clientOrderId,
    pair: k.pair ?? order.pair,
    side: k.side ?? order.side,
    orderType: k.orderType ?? order.orderType,
    volume: order.volume ?? k.volume,
    limitPrice: order.limitPrice ?? k.limitPrice,
    status: statusAhead ? status : k.status,
    reason: statusAhead ? order.reason : k.reason,
    finalFigures: k.finalFigures || (statusRank(status) === 2 && order.volumeExecuted !== null),
    volumeExecuted: volumeAhead ? order.volumeExecuted : k.volumeExecuted,
    cost: volumeAhead ? order.cost : k.cost,
    averagePrice: volumeAhead ? order.averagePrice : k.averagePrice,
    firstAt: k.firstAt ?? order.at,
    lastAt: order.at ?? k.lastAt,
  };
}

/** One fill folded in; `fresh` is false for a trade id already heard (it changes nothing). */
export function absorbTrade(known: FeedKnowledge | undefined, trade: FeedTrade): { readonly knowledge: FeedKnowledge; readonly fresh: boolean } {
  const k = known ?? empty(trade.txid);
  if (k.tradeIds.has(trade.tradeId)) return { knowledge: k, fresh: false };
  const cost = trade.cost ?? trade.volume.mul(trade.price);
  const fee = trade.fees.reduce((sum, f) => sum.plus(f.amount), ZERO);
  return {
    fresh: true,
    knowledge: {
      ...k,
      clientOrderId: k.clientOrderId ?? trade.clientOrderId,
      pair: k.pair ?? trade.pair,
      side: k.side ?? trade.side,
      tradeIds: new Set([...k.tradeIds, trade.tradeId]),
      tradeVolume: k.tradeVolume.plus(trade.volume),
      tradeCost: k.tradeCost.plus(cost),
      tradeFee: k.tradeFee.plus(fee),
      firstAt: k.firstAt ?? trade.at,
      lastAt: trade.at ?? k.lastAt,
    },
  };
}

/** The order as the feed describes it, or why it cannot be told from the feed alone. */
export type FeedReading =
  | { readonly kind: 'snapshot'; readonly snapshot: OrderSnapshot; /** A final status was heard without its figures. */ readonly lookUp: boolean }
  | { readonly kind: 'unknown' };

/**
 * The order as the feed knows it, laid over `base` (the last known snapshot: its terms are kept). Executed
 * volume is the larger of the last cumulative figure and the sum of the distinct fills, both lower bounds of the
 * truth, so neither a duplicate fill nor a fill also seen by REST is counted twice. A final status heard from an
 * event without the cumulative figures is not taken (a fill could be missing from what the feed told): `lookUp` asks for REST.
 * Without a base, the feed must have told the order's side, type and volume (`pending_new` and the snapshot
 * do); the pair is then the canonical key, not Kraken's `descr.pair`.
 */
export function feedReading(k: FeedKnowledge, base: OrderSnapshot | null): FeedReading {
  const side = base?.side ?? k.side;
  const orderType = base?.orderType ?? k.orderType;
  const volume = base?.volume ?? k.volume;
  if (side === null || orderType === null || volume === null) return { kind: 'unknown' };
  const byOrder = k.volumeExecuted ?? ZERO;
  const fromTrades = k.tradeVolume.gt(byOrder);
  const volumeExecuted = fromTrades ? k.tradeVolume : byOrder;
  const cost = fromTrades ? k.tradeCost : (k.cost ?? (volumeExecuted.eq(k.tradeVolume) ? k.tradeCost : ZERO));
  const averagePrice =
    !fromTrades && k.averagePrice !== null ? k.averagePrice : volumeExecuted.gt(0) ? cost.div(volumeExecuted) : ZERO;
  // Executed in full: no fill can follow, so it is filled with these figures even before the feed says so
  // (Kraken's trade event of the last fill may still say partially_filled; `filled` follows).
  const complete = volume.gt(0) && volumeExecuted.gte(volume);
  const said = k.status ?? base?.status ?? 'open';
  const heard = complete && statusRank(said) < 2 ? 'closed' : said;
  const lookUp = statusRank(heard) === 2 && !k.finalFigures && !complete;
  const status = lookUp ? (base?.status ?? 'open') : heard;
  const final = statusRank(status) === 2;
  const reading: OrderSnapshot = {
    txid: k.txid,
    clientOrderId: base?.clientOrderId ?? k.clientOrderId,
    pair: base?.pair ?? k.pair ?? '',
    side,
    orderType,
    status,
    volume,
    volumeExecuted,
    cost,
    fee: k.tradeFee,
    averagePrice,
    limitPrice: base?.limitPrice ?? k.limitPrice,
    stopPrice: base?.stopPrice ?? null,
    openedAt: base?.openedAt ?? Math.floor((k.firstAt ?? 0) / 1000),
    closedAt: final ? (base?.closedAt ?? (k.lastAt === null ? null : k.lastAt / 1000)) : null,
    reason: final ? k.reason : null,
  };
  return { kind: 'snapshot', snapshot: reading, lookUp };
}
