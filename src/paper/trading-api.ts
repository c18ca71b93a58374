import { Decimal } from 'decimal.js';
import { cancelPenaltyUnits } from '../kraken/budget';
import { checkAddOrder, resolvePair } from './add-order';
import { isOpen, type OrderTerms, type PaperOrder } from './orders';
import { type Params } from './params';
import { failure, type Outcome, success } from './public-api';
import { type Venue } from './venue';
import { describeOrder, rfc3339Seconds } from './wire';

/**
 * AddOrder. The pair's trading counter is charged as soon as the pair is known, before any other check, as
 * Kraken charges failed transactions too.
 */
export function addOrder(venue: Venue, params: Params, apiKey: string, arrivedAt: number, now: number): Outcome {
  const pair = resolvePair(params, venue.catalogue);
  if (!pair.ok) return failure(pair.error);
  if (!venue.tradingBudget.tryCharge({ rest: 0, trading: { pair: pair.value.key, units: 1 } }, now)) {
    venue.rateLimitErrors.trading += 1;
    return failure('EOrder:Rate limit exceeded');
  }
  const quote = venue.market.quote(pair.value.key);
  const checked = checkAddOrder(params, pair.value, arrivedAt, now, quote.last);
  if (!checked.ok) return failure(checked.error);
  const terms = checked.value;
  if (venue.systemStatus === 'cancel_only') return failure('EService:Market in cancel_only mode');
  if (venue.systemStatus === 'post_only' && !terms.postOnly) return failure('EService:Market in post_only mode');
  if (terms.validate) return success({ descr: { order: describeOrder(terms) } });

  const refusal = placementRefusal(venue, terms);
  if (refusal) return failure(refusal);

  const order: PaperOrder = {
    txid: venue.ids.orderId(),
    pair: terms.pair,
    side: terms.side,
    orderType: terms.orderType,
    volume: terms.volume,
    price: terms.price,
    price2: terms.price2,
    clOrdId: terms.clOrdId,
    userref: terms.userref,
    oflags: terms.oflags,
    postOnly: terms.postOnly,
    feeInBase: terms.feeInBase,
    timeInForce: terms.timeInForce,
    openedAt: now,
    expiresAt: terms.expiresAt,
    apiKey,
    status: 'open',
    volExec: new Decimal(0),
    cost: new Decimal(0),
    fee: new Decimal(0),
    closedAt: null,
    reason: null,
    triggered: false,
    misc: [],
    trades: [],
  };
  venue.engine.accept(order, now);
  if (order.clOrdId !== null) venue.acceptedByClOrdId.set(order.clOrdId, (venue.acceptedByClOrdId.get(order.clOrdId) ?? 0) + 1);
  return success({ descr: { order: describeOrder(order) }, txid: [order.txid] });
}

/** The checks that need the account and the book: post-only, open-order limit, duplicate id, funds. */
function placementRefusal(venue: Venue, terms: OrderTerms): string | undefined {
  const quote = venue.market.quote(terms.pair.key);
  if (terms.postOnly && terms.price) {
    const wouldTake = terms.side === 'buy' ? terms.price.gte(quote.ask) : terms.price.lte(quote.bid);
    if (wouldTake) return 'EOrder:Post only order';
  }
  if (venue.book.openCount(terms.pair.key) >= venue.openOrderLimit) return 'EOrder:Orders limit exceeded';
  // Kraken's string for a cl_ord_id already used by an open order is UNCONFIRMED (kraken-api.md §10.3).
  if (terms.clOrdId !== null && venue.book.openWithClOrdId(terms.clOrdId)) return 'EOrder:Duplicate order';
  const hold = venue.engine.holdFor({ ...terms, triggered: false }, terms.volume);
  if (hold.amount.gt(venue.engine.available(hold.asset))) return 'EOrder:Insufficient funds';
  return undefined;
}

/** CancelOrder: by txid, by userref (every open order with it) or by cl_ord_id. */
export function cancelOrder(venue: Venue, params: Params, now: number): Outcome {
  const txid = params.text('txid');
  const clOrdId = params.text('cl_ord_id');
  if (txid === null || clOrdId === null || (txid === undefined && clOrdId === undefined) || (txid !== undefined && clOrdId !== undefined)) {
    return failure('EGeneral:Invalid arguments:txid');
  }
  const targets = cancelTargets(venue, txid, clOrdId);
  if (targets.length === 0) return failure('EOrder:Unknown order');
  const costs = targets.map((o) => ({ rest: 0, trading: { pair: o.pair.key, units: cancelPenaltyUnits(now - o.openedAt) } }));
  if (costs.some((c) => venue.tradingBudget.waitMs(c, now) > 0)) {
    venue.rateLimitErrors.trading += 1;
    return failure('EOrder:Rate limit exceeded');
  }
  for (const c of costs) venue.tradingBudget.record(c, now);
  for (const o of targets) venue.engine.cancel(o, now, 'User requested');
  return success({ count: targets.length, pending: false });
}

function cancelTargets(venue: Venue, txid: string | undefined, clOrdId: string | undefined): PaperOrder[] {
  if (clOrdId !== undefined) {
    const found = venue.book.openWithClOrdId(clOrdId);
    return found ? [found] : [];
  }
  if (txid === undefined) return [];
  const byTxid = venue.book.get(txid);
  if (byTxid) return isOpen(byTxid) ? [byTxid] : [];
  if (/^-?\d{1,10}$/.test(txid)) {
    const userref = Number(txid);
    return venue.book.open().filter((o) => o.userref === userref);
  }
  const byClOrdId = venue.book.openWithClOrdId(txid);
  return byClOrdId ? [byClOrdId] : [];
}

export function cancelAll(venue: Venue, now: number): Outcome {
  const open = venue.book.open();
  for (const o of open) venue.engine.cancel(o, now, 'User requested');
  return success({ count: open.length, pending: false });
}

/** The dead man's switch: `timeout` seconds from now every open order is cancelled; 0 disarms it. */
export function cancelAllOrdersAfter(venue: Venue, params: Params, now: number): Outcome {
  const text = params.text('timeout');
  if (typeof text !== 'string' || !/^\d{1,5}$/.test(text) || Number(text) >= 86_400) return failure('EGeneral:Invalid arguments:timeout');
  const timeout = Number(text);
  venue.deadMansSwitchAt = timeout === 0 ? null : now + timeout * 1000;
  return success({
    currentTime: rfc3339Seconds(now),
    triggerTime: venue.deadMansSwitchAt === null ? '0' : rfc3339Seconds(venue.deadMansSwitchAt),
  });
}
