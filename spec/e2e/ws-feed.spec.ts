import { afterEach, describe, expect, it } from '@jest/globals';
import { Subject, type Subscription, lastValueFrom, tap } from 'rxjs';
import { clientRateBudget, krakenCostModel } from '../../src/kraken/budget';
import { createKrakenClient } from '../../src/kraken/client';
import { Credentials } from '../../src/kraken/credentials';
import { KrakenExchange } from '../../src/kraken/exchange';
import { PrivateLane } from '../../src/kraken/private-lane';
import { type ExecutionConfig } from '../../src/model/config';
import { type ExecutionEvent, type ExecutionFeed, type QuoteEvent } from '../../src/model/feed';
import { type ExecutionReport } from '../../src/model/report';
import { type TradeSignal } from '../../src/model/signal';
import { type PaperExchange } from '../../src/paper';
import { type ExecutionHandler, createExecutionHandler } from '../../src/streams/execution-handler';
import { testConfig } from '../../src/testing/config';
import { seededRandom, seededUuids } from '../../src/testing/seeded';
import { type IdleClock } from '../../src/time/idle-clock';
import { idleWs } from '../kraken/support/idle-ws';

/**
 * The handler with the real `KrakenWsFeed` against the paper exchange over loopback (HTTP and WebSocket), on
 * one IdleClock: fills come from the socket, REST is the safety net (design.md §9).
 */

interface Rig {
  readonly clock: IdleClock;
  readonly paper: PaperExchange;
  readonly handler: ExecutionHandler;
  readonly signals: Subject<TradeSignal>;
  readonly reports: ExecutionReport[];
  /** REST methods called, with the clock time they were sent. */
  readonly rest: Array<{ readonly method: string; readonly at: number }>;
  /** What the feed told the handler. */
  readonly feedEvents: ExecutionEvent[];
  /** What the ticker feed told the take-profit watches. */
  readonly quoteEvents: QuoteEvent[];
  until(what: string, done: () => boolean, limitMs?: number): Promise<void>;
  restCalls(method: string, since?: number): number;
  close(): Promise<void>;
}

const rigs: Rig[] = [];

async function rig(): Promise<Rig> {
  const { clock, paper, client, ws, rest } = await idleWs({ restTimeoutMs: 10_000, jitter: 0.2 });
  const feedEvents: ExecutionEvent[] = [];
  const quoteEvents: QuoteEvent[] = [];
  // The real feed, with what it tells the handler written down.
  const feed: ExecutionFeed = {
    executions: () => ws.executions().pipe(tap((event) => feedEvents.push(event))),
    quotes: (p) => ws.quotes(p).pipe(tap((event) => quoteEvents.push(event))),
    placeOrder: (request) => ws.placeOrder(request),
    cancelOrder: (ref) => ws.cancelOrder(ref),
  };
  const config: ExecutionConfig = { ...testConfig(), feed: { mode: 'websocket', auditIntervalMs: 60_000 } };
  const signals = new Subject<TradeSignal>();
  const handler = createExecutionHandler(config, {
    port: new KrakenExchange(client),
    budget: clientRateBudget(paper.tier),
    costs: krakenCostModel,
    scheduler: clock,
    random: seededRandom(7),
    newId: seededUuids(seededRandom(8)),
    feed,
  }).connect({ signals$: signals });
  const reports: ExecutionReport[] = [];
  const subscription: Subscription = handler.reports$.subscribe((report) => reports.push(report));
  const r: Rig = {
    clock,
    paper,
    handler,
    signals,
    reports,
    rest,
    feedEvents,
    quoteEvents,
    until: async (what, done, limitMs = 120_000) => {
      if (!(await clock.runUntil(done, limitMs))) throw new Error(`${what} did not come within ${limitMs} ms`);
    },
    restCalls: (method, since = 0) => rest.filter((call) => call.method === method && call.at >= since).length,
    close: async () => {
      await clock.drive(handler.stop(), 60_000);
      subscription.unsubscribe();
      await clock.settle();
      await paper.close();
    },
  };
  rigs.push(r);
  return r;
}

afterEach(async () => {
  for (const r of rigs.splice(0)) await r.close();
});

const limitBuy = (signalId: string): TradeSignal => ({
  signalId,
  pair: 'BTC/USD',
  side: 'buy',
  orderType: 'limit',
  quantity: '0.05',
  limitPrice: '59000',
  stopLoss: '57000',
});

const statuses = (r: Rig, signalId: string, role = 'entry'): string[] =>
  r.reports.filter((x) => x.signalId === signalId && x.role === role).map((x) => x.status);

const snapshots = (r: Rig): number => r.feedEvents.filter((e) => e.kind === 'snapshot').length;

describe('e2e: fills over the WebSocket feed', () => {
  it('a fill is reported from the socket at the instant it happens, with the REST monitor at its audit pace', async () => {
    const r = await rig();
    r.signals.next(limitBuy('ws-fill'));
    await r.until('entry NEW', () => statuses(r, 'ws-fill').includes('NEW'));
    await r.until('feed snapshot', () => snapshots(r) === 1);
    // 20 s with the order resting: the socket is up, so no OpenOrders tick (the audit is a minute).
    await r.clock.advance(20_000);
    const quietFrom = r.clock.now();
    expect(r.restCalls('OpenOrders', quietFrom - 20_000)).toBe(0);

    const fillAt = r.clock.now();
    r.paper.setPrice('XBTUSD', '59000');
    await r.until('entry FILLED', () => statuses(r, 'ws-fill').includes('FILLED'));
    const filled = r.reports.find((x) => x.signalId === 'ws-fill' && x.status === 'FILLED');
    // The same instant on the exchange's clock: nothing waited for a poll.
    expect(filled?.timestamp).toBe(fillAt);
    expect(filled?.quantityFilled.toFixed()).toBe('0.05');
    expect(statuses(r, 'ws-fill')).toEqual(['PENDING_NEW', 'NEW', 'FILLED']);
    // Told by the socket: no OpenOrders or QueryOrders found it.
    expect(r.restCalls('OpenOrders', fillAt) + r.restCalls('QueryOrders', fillAt)).toBe(0);
    await r.until('stop NEW', () => statuses(r, 'ws-fill', 'stop-loss').includes('NEW'));
    // Over the whole run: the AddOrders, one token, and no polling at all.
    expect(r.restCalls('OpenOrders') + r.restCalls('QueryOrders')).toBe(0);
    expect(r.restCalls('GetWebSocketsToken')).toBe(1);
  });

  it('a fill while the socket was down: the reconnect snapshot’s fills show it, FILLED at the reconnect', async () => {
    const r = await rig();
    r.signals.next(limitBuy('ws-down'));
    await r.until('entry NEW', () => statuses(r, 'ws-down').includes('NEW'));
    await r.until('feed snapshot', () => snapshots(r) === 1);
    r.paper.wsFaults.drop();
    r.paper.setPrice('XBTUSD', '59000');
    const droppedAt = r.clock.now();
    await r.until('entry FILLED', () => statuses(r, 'ws-down').includes('FILLED'));
    const filled = r.reports.find((x) => x.signalId === 'ws-down' && x.status === 'FILLED');
    // The feed's first reconnect is 500 ms later (its back-off); snap_trades lists the whole fill.
    expect((filled?.timestamp ?? 0) - droppedAt).toBe(500);
    expect(filled?.quantityFilled.toFixed()).toBe('0.05');
    expect(statuses(r, 'ws-down')).toEqual(['PENDING_NEW', 'NEW', 'FILLED']);
    expect(r.feedEvents.map((e) => e.kind).slice(0, 5)).toEqual(['up', 'snapshot', 'down', 'up', 'snapshot']);
    expect(r.restCalls('OpenOrders') + r.restCalls('QueryOrders')).toBe(0);
  });

  it('a cancel from elsewhere while the socket was down: the reconnect snapshot does not list the order, one QueryOrders reports CANCELED', async () => {
    const r = await rig();
    r.signals.next(limitBuy('ws-gone'));
    const entry = (): ExecutionReport | undefined => r.reports.find((x) => x.signalId === 'ws-gone' && x.status === 'NEW');
    await r.until('entry NEW', () => entry() !== undefined);
    await r.until('feed snapshot', () => snapshots(r) === 1);
    r.paper.wsFaults.drop();
    const droppedAt = r.clock.now();
    // A person (another key on the account) cancels it; the clock stands still meanwhile.
    const other = r.paper.addApiKey();
    const person = createKrakenClient({ url: r.paper.url, credentials: new Credentials(other.apiKey, other.apiSecret), timeoutMs: 2_000, lane: new PrivateLane() });
    await lastValueFrom(person.cancelOrder({ txid: entry()?.exchangeOrderId ?? '' }));
    await r.until('entry CANCELED', () => statuses(r, 'ws-gone').includes('CANCELED'));
    expect(statuses(r, 'ws-gone')).toEqual(['PENDING_NEW', 'NEW', 'CANCELED']);
    const canceled = r.reports.find((x) => x.signalId === 'ws-gone' && x.status === 'CANCELED');
    expect(canceled?.quantityFilled.isZero()).toBe(true);
    // The resync: one QueryOrders when the feed came back, no OpenOrders poll.
    expect(r.rest.filter((c) => c.method === 'QueryOrders').map((c) => c.at - droppedAt)).toEqual([500]);
    expect(r.restCalls('OpenOrders')).toBe(0);
  });

  it('the take-profit watch reads the socket’s ticker: triggered at the instant the price gets there, no Ticker polling while up', async () => {
    const r = await rig();
    r.signals.next({ signalId: 'ws-tp', pair: 'BTC/USD', side: 'buy', orderType: 'market', quantity: '0.05', stopLoss: '57000', takeProfit: '61000' });
    await r.until('stop NEW', () => statuses(r, 'ws-tp', 'stop-loss').includes('NEW'));
    await r.until('ticker feed up', () => r.quoteEvents.some((e) => e.kind === 'up'));
    const upAt = r.clock.now();
    await r.clock.advance(10_000);
    // The watch polls Ticker every second until its feed is up; not once after.
    expect(r.restCalls('Ticker', upAt + 1)).toBe(0);
    const priceAt = r.clock.now();
    r.paper.setPrice('XBTUSD', '61500');
    await r.until('take-profit exit FILLED', () => statuses(r, 'ws-tp', 'take-profit').includes('FILLED'));
    const cancel = r.reports.find((x) => x.signalId === 'ws-tp' && x.role === 'stop-loss' && x.status === 'PENDING_CANCEL');
    expect(cancel?.reason).toBe('cancel: take-profit');
    expect(cancel?.timestamp).toBe(priceAt);
    expect(statuses(r, 'ws-tp', 'stop-loss')).toEqual(['PENDING_NEW', 'NEW', 'PENDING_CANCEL', 'CANCELED']);
    expect(r.restCalls('Ticker', upAt + 1)).toBe(0);
  });
});
