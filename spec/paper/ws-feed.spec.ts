import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import crossFetch from 'cross-fetch';
import { Decimal } from 'decimal.js';
import { type Subscription, lastValueFrom, map } from 'rxjs';
import { type KrakenClient, createKrakenClient } from '../../src/kraken/client';
import { Credentials } from '../../src/kraken/credentials';
import { NonceSource } from '../../src/kraken/nonce';
import { PrivateLane } from '../../src/kraken/private-lane';
import { type FetchLike } from '../../src/kraken/transport';
import { KrakenWsFeed } from '../../src/kraken/ws-feed';
import { ExchangeError } from '../../src/model/errors';
import { type ExecutionEvent, type QuoteEvent } from '../../src/model/feed';
import { type PairBook } from '../../src/model/pair';
import { type PaperExchange, startPaperExchange } from '../../src/paper';
import { IdleClock } from '../../src/time/idle-clock';
import { pairBookFromAssetPairs } from '../../src/kraken/pairs';
import { clientRateBudget, krakenCostModel } from '../../src/kraken/budget';
import { KrakenExchange } from '../../src/kraken/exchange';
import { createExchangeDeps } from '../../src/streams/deps';
import { watchLastPrice } from '../../src/streams/price-watch';
import { testConfig } from '../../src/testing/config';
import { seededRandom, seededUuids } from '../../src/testing/seeded';
import { quiet, tuning } from '../streams/stream-deps';

/** Fetch through the idle clock: the clock stands still until the body has been read. */
const idleFetch =
  (clock: IdleClock): FetchLike =>
  (url, init) => {
    if (!url.startsWith('http://127.0.0.1:')) return Promise.reject(new Error('only the paper exchange on 127.0.0.1'));
    return clock.io(async () => {
      const response = await crossFetch(url, init);
      const body = await response.text();
      return { status: response.status, headers: response.headers, text: () => Promise.resolve(body) };
    }, init.signal);
  };

interface Rig {
  readonly clock: IdleClock;
  readonly paper: PaperExchange;
  readonly rest: KrakenClient;
  readonly feed: KrakenWsFeed;
  readonly seen: Array<{ readonly at: number; readonly event: ExecutionEvent }>;
  /** Clock ms since the rig started. */
  elapsed(): number;
  follow(): Subscription;
  until(done: () => boolean, limitMs?: number): Promise<void>;
  close(): Promise<void>;
}

async function rig(): Promise<Rig> {
  const clock = new IdleClock();
  const start = clock.now();
  const paper = await startPaperExchange({ seed: 7, clock: () => clock.now(), timers: clock.waitTimers, wsTimers: clock.timers, links: clock.links });
  const rest = createKrakenClient({
    url: paper.url,
    credentials: new Credentials(paper.apiKey, paper.apiSecret),
    timeoutMs: 10_000,
    lane: new PrivateLane(new NonceSource(() => clock.now())),
    fetch: idleFetch(clock),
    clock: () => clock.now(),
    timers: clock.timers,
  });
  const pairs: PairBook = pairBookFromAssetPairs(await lastValueFrom(rest.assetPairs()));
  const feed = new KrakenWsFeed({
    privateUrl: paper.wsUrl,
    publicUrl: paper.wsUrl,
    token: () => rest.getWebSocketsToken().pipe(map((t) => t.token)),
    pairs,
    links: clock.links,
    scheduler: clock,
    random: () => 0.5,
    watchdogMs: 5_000,
    requestTimeoutMs: 3_000,
    backoff: { initialDelayMs: 500, maxDelayMs: 8_000, multiplier: 2, jitter: 0.2 },
  });
  const seen: Rig['seen'] = [];
  const subscriptions: Subscription[] = [];
  return {
    clock,
    paper,
    rest,
    feed,
    seen,
    elapsed: () => clock.now() - start,
    follow: () => {
      const subscription = feed.executions().subscribe((event) => seen.push({ at: clock.now() - start, event }));
      subscriptions.push(subscription);
      return subscription;
    },
    until: async (done, limitMs = 120_000) => {
      if (!(await clock.runUntil(done, limitMs))) throw new Error('the awaited event did not come');
    },
    close: async () => {
      for (const s of subscriptions) s.unsubscribe();
      await clock.settle();
      await paper.close();
    },
  };
}

const kinds = (seen: Rig['seen']): string[] => seen.map(({ at, event }) => `${at}:${event.kind}${event.kind === 'down' ? `/${event.reason}` : ''}`);
const count = (r: Rig, kind: ExecutionEvent['kind']): number => r.seen.filter((s) => s.event.kind === kind).length;

describe('KrakenWsFeed against the paper exchange (loopback WebSocket, idle clock)', () => {
  let r: Rig;
  beforeEach(async () => {
    r = await rig();
  });
  afterEach(async () => {
    await r.close();
  });

  it('a fill triggered by setPrice reaches the feed at once: the trade, then the order filled, with the REST trade id', async () => {
    const placed = await lastValueFrom(
      r.rest.addOrder({ pair: 'XBTUSD', type: 'buy', ordertype: 'limit', price: '59000.5', volume: '0.01', cl_ord_id: 'entry-1' }),
    );
    r.follow();
    await r.until(() => count(r, 'snapshot') === 1);
    const snapshot = r.seen.find((s) => s.event.kind === 'snapshot')?.event;
    expect(snapshot?.kind === 'snapshot' && snapshot.orders.map((o) => [o.txid, o.clientOrderId, o.pair, o.status])).toEqual([
      [placed.txids[0], 'entry-1', 'XXBTZUSD', 'open'],
    ]);
    const filledAt = r.elapsed();
    const before = r.seen.length;
    r.paper.setPrice('XBTUSD', '59000');
    await r.until(() => r.seen.some((s) => s.event.kind === 'order' && s.event.order.status === 'filled'));
    const after = r.seen.slice(before).map((s) => s.event);
    expect(after.map((e) => (e.kind === 'order' ? `order:${e.order.change}/${e.order.status}` : e.kind))).toEqual([
      'trade',
      'order:trade/partially-filled',
      'order:filled/filled',
    ]);
    const trade = after[0];
    expect(trade?.kind === 'trade' && [trade.trade.tradeId, trade.trade.volume.toFixed(), trade.trade.price.toFixed(), trade.trade.liquidity]).toEqual([
      r.paper.inspect.trades()[0]?.id,
      '0.01',
      '59000.5',
      'maker',
    ]);
    // Same instant on the exchange's clock: nothing waited for a poll.
    expect(r.seen.at(-1)?.at).toBe(filledAt);
    const viaRest = await lastValueFrom(r.rest.queryOrders([placed.txids[0] ?? ''], { trades: true }));
    expect(viaRest.get(placed.txids[0] ?? '')?.volumeExecuted.toFixed()).toBe('0.01');
  });

  it('places and cancels over the socket: one engine, one book with REST', async () => {
    r.follow();
    await r.until(() => count(r, 'up') === 1);
    const request = { clientOrderId: 'ws-entry', pair: 'XXBTZUSD', side: 'buy' as const, orderType: 'limit' as const, volume: new Decimal('0.01'), price: new Decimal('50000') };
    let placedTxid: string | undefined;
    r.feed.placeOrder(request).subscribe((p) => (placedTxid = p.txid));
    await r.until(() => placedTxid !== undefined);
    const open = await lastValueFrom(r.rest.openOrders({ cl_ord_id: 'ws-entry' }));
    expect([...open.keys()]).toEqual([placedTxid]);
    let cancelled = false;
    r.feed.cancelOrder({ clientOrderId: 'ws-entry' }).subscribe(() => (cancelled = true));
    await r.until(() => cancelled && r.seen.some((s) => s.event.kind === 'order' && s.event.order.status === 'canceled'));
    expect(r.paper.inspect.order(placedTxid ?? '')?.status).toBe('canceled');
    let refusal: unknown;
    r.feed.cancelOrder({ clientOrderId: 'ws-entry' }).subscribe({ error: (e: unknown) => (refusal = e) });
    await r.until(() => refusal !== undefined);
    expect(refusal instanceof ExchangeError && [refusal.kind, refusal.codes]).toEqual(['refused', ['EOrder:Invalid order']]);
    expect(refusal instanceof ExchangeError && refusal.facts.orderGone).toBe(true);
  });

  it('a stalled socket is found by the watchdog and replaced; the new snapshot shows what filled meanwhile', async () => {
    const placed = await lastValueFrom(r.rest.addOrder({ pair: 'XBTUSD', type: 'buy', ordertype: 'limit', price: '59000.5', volume: '0.01' }));
    r.follow();
    await r.until(() => count(r, 'snapshot') === 1);
    const stalledAt = r.elapsed();
    r.paper.wsFaults.stall();
    r.paper.setPrice('XBTUSD', '59000');
    await r.until(() => count(r, 'snapshot') === 2);
    // The snapshot was the last frame (the stall came at the same instant): the watchdog fires 5 s later, the
    // reconnect 500 ms after that.
    expect(kinds(r.seen).slice(2)).toEqual([`${stalledAt + 5_000}:down/stalled`, `${stalledAt + 5_500}:up`, `${stalledAt + 5_500}:snapshot`]);
    expect(count(r, 'trade')).toBe(0);
    const resync = r.seen.filter((s) => s.event.kind === 'snapshot').at(-1)?.event;
    // The filled order is no longer among the open ones, and its fill is in the snapshot's trades.
    expect(resync?.kind === 'snapshot' && [resync.orders.length, resync.trades.map((t) => t.txid)]).toEqual([0, [placed.txids[0]]]);
    expect(r.paper.wsConnections()).toBe(1);
  });

  it('a dropped socket reconnects after the backoff with a fresh token', async () => {
    r.follow();
    await r.until(() => count(r, 'up') === 1);
    const droppedAt = r.elapsed();
    const tokensBefore = r.paper.inspect.requestCount('GetWebSocketsToken');
    r.paper.wsFaults.drop();
    await r.until(() => count(r, 'up') === 2);
    expect(kinds(r.seen).slice(2)).toEqual([`${droppedAt}:down/closed`, `${droppedAt + 500}:up`, `${droppedAt + 500}:snapshot`]);
    expect(r.paper.inspect.requestCount('GetWebSocketsToken')).toBe(tokensBefore + 1);
  });

  it('a skipped sequence number reaches the feed as a gap', async () => {
    r.follow();
    await r.until(() => count(r, 'snapshot') === 1);
    r.paper.wsFaults.skipSequence();
    await lastValueFrom(r.rest.addOrder({ pair: 'XBTUSD', type: 'buy', ordertype: 'limit', price: '50000', volume: '0.01' }));
    await r.until(() => count(r, 'gap') === 1);
    expect(r.seen.find((s) => s.event.kind === 'gap')?.event).toEqual({ kind: 'gap', expected: 2, received: 3 });
  });

  it('a refused token is a down, then a fresh token gets through; close code 1008 ends the feed', async () => {
    r.paper.wsFaults.refuseToken();
    r.follow();
    await r.until(() => count(r, 'up') === 1);
    expect(kinds(r.seen).slice(0, 2)).toEqual(['0:down/refused', '500:up']);
    r.paper.wsFaults.drop(1008);
    await r.until(() => count(r, 'down') === 2);
    const last = r.seen.at(-1)?.event;
    expect(last?.kind === 'down' && [last.reason, last.terminal]).toEqual(['refused', true]);
    await r.clock.advance(60_000);
    expect(r.paper.wsConnections()).toBe(0);
  });

  it('an add_order the stalled exchange read but never answered is ambiguous at the request timeout, and the order exists', async () => {
    r.follow();
    await r.until(() => count(r, 'up') === 1);
    r.paper.wsFaults.stall();
    const sentAt = r.elapsed();
    let outcome: { error?: unknown; at?: number } = {};
    r.feed
      .placeOrder({ clientOrderId: 'held-1', pair: 'XXBTZUSD', side: 'buy', orderType: 'market', volume: new Decimal('0.01') })
      .subscribe({ error: (error: unknown) => (outcome = { error, at: r.elapsed() }) });
    await r.until(() => outcome.error !== undefined);
    expect(outcome.error instanceof ExchangeError && outcome.error.kind).toBe('ambiguous');
    expect((outcome.at ?? 0) - sentAt).toBe(3_000);
    expect(r.paper.inspect.ordersByClOrdId('held-1')).toHaveLength(1);
  });

  it('reports a system status change while up, and add_order in maintenance is refused as Kraken refuses it (retryable)', async () => {
    r.follow();
    await r.until(() => count(r, 'up') === 1);
    r.paper.setSystemStatus('maintenance');
    await r.until(() => count(r, 'system') === 1);
    expect(r.seen.at(-1)?.event).toEqual({ kind: 'system', status: 'maintenance' });
    let refusal: unknown;
    r.feed
      .placeOrder({ clientOrderId: 'in-maint', pair: 'XXBTZUSD', side: 'buy', orderType: 'market', volume: new Decimal('0.01') })
      .subscribe({ error: (error: unknown) => (refusal = error) });
    await r.until(() => refusal !== undefined);
    expect(refusal instanceof ExchangeError && [refusal.kind, refusal.codes]).toEqual(['retryable', ['EService:Unavailable']]);
    expect(r.paper.inspect.orders()).toHaveLength(0);
  });

  it('ticker quotes for the pairs asked, as the price moves', async () => {
    const quotes: QuoteEvent[] = [];
    const subscription = r.feed.quotes(['XXBTZUSD']).subscribe((q) => quotes.push(q));
    await r.until(() => quotes.some((q) => q.kind === 'quote'));
    r.paper.setPrice('XBTUSD', '61234.5');
    await r.until(() => quotes.some((q) => q.kind === 'quote' && q.quote.last.eq('61234.5')));
    subscription.unsubscribe();
    expect(quotes[0]?.kind).toBe('up');
    const last = quotes.at(-1);
    expect(last?.kind === 'quote' && [last.quote.pair, last.quote.bid.toFixed(), last.quote.ask.toFixed()]).toEqual(['XXBTZUSD', '61234.4', '61234.6']);
  });

  it('take-profit watches of several orders on one pair share one ticker subscription; the last to leave closes it', async () => {
    const config = testConfig({ feed: { mode: 'websocket', auditIntervalMs: 60_000 } });
    const deps = createExchangeDeps({
      config,
      port: new KrakenExchange(r.rest),
      budget: clientRateBudget(r.paper.tier),
      costs: krakenCostModel,
      scheduler: r.clock,
      newId: seededUuids(seededRandom(3)),
      random: seededRandom(4),
      log: quiet,
      tuning,
      feed: r.feed,
    });
    const prices: string[][] = [[], [], []];
    const watch = (i: number): Subscription => watchLastPrice('XXBTZUSD', deps).subscribe((price) => prices[i]?.push(price.toFixed()));
    const first = watch(0);
    const second = watch(1);
    await r.until(() => (prices[0]?.length ?? 0) > 0 && (prices[1]?.length ?? 0) > 0);
    r.paper.setPrice('XBTUSD', '61234.5');
    await r.until(() => prices.slice(0, 2).every((p) => p.at(-1) === '61234.5'));
    // A third order's watch joins the open socket: it is told the last price at once, over the socket.
    const tickerReads = (): number => r.paper.inspect.requestCounts().get('Ticker') ?? 0;
    const readsBefore = tickerReads();
    const third = watch(2);
    await r.until(() => prices[2]?.at(-1) === '61234.5');
    expect(r.paper.wsTickerSubscribes('BTC/USD')).toBe(1);
    expect(r.paper.wsConnections()).toBe(1);
    r.paper.setPrice('XBTUSD', '61300.1');
    await r.until(() => prices.every((p) => p.at(-1) === '61300.1'));
    // No REST Ticker read for the watch that joined: it never polled.
    expect(tickerReads()).toBe(readsBefore);

    first.unsubscribe();
    second.unsubscribe();
    await r.clock.settle();
    expect(r.paper.wsConnections()).toBe(1);
    third.unsubscribe();
    await r.until(() => r.paper.wsConnections() === 0);
    // A watch after all had left opens a connection of its own again.
    const again = watch(0);
    await r.until(() => r.paper.wsTickerSubscribes('BTC/USD') === 2 && prices[0]?.at(-1) === '61300.1');
    again.unsubscribe();
    await r.until(() => r.paper.wsConnections() === 0);
  });
});
