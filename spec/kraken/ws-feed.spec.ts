import { beforeEach, describe, expect, it } from '@jest/globals';
import { Decimal } from 'decimal.js';
import { type Observable, type Subscription, defer, of } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { pairBookFromAssetPairs } from '../../src/kraken/pairs';
import { KrakenWsFeed, type KrakenWsFeedOptions } from '../../src/kraken/ws-feed';
import { ExchangeError } from '../../src/model/errors';
import { type ExecutionEvent, type QuoteEvent } from '../../src/model/feed';
import { type CancelOutcome, type OrderRequest, type PlacedOrder } from '../../src/model/order';
import { FakeKraken, type FakeSocket } from './support/fake-ws';
import { assetPairs } from './support/fixtures';

const pairs = pairBookFromAssetPairs(assetPairs);

interface Rig {
  readonly scheduler: TestScheduler;
  readonly kraken: FakeKraken;
  readonly feed: KrakenWsFeed;
  readonly seen: Array<{ readonly at: number; readonly event: ExecutionEvent }>;
  readonly tokens: string[];
  /** Subscribes to executions now and unsubscribes at `until`; `completedAt` says when it completed by itself. */
  follow(until: number): { completedAt: number | null };
  at(time: number, step: () => void): void;
  socket(index: number): FakeSocket;
  run(): void;
}

function rig(overrides: Partial<KrakenWsFeedOptions> = {}): Rig {
  const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  scheduler.maxFrames = 10_000_000;
  const kraken = new FakeKraken(scheduler);
  const tokens: string[] = [];
  const feed = new KrakenWsFeed({
    privateUrl: 'ws://127.0.0.1:1/v2',
    publicUrl: 'ws://127.0.0.1:1/v2',
    token: () =>
      defer(() => {
        tokens.push(`token-${tokens.length + 1}`);
        return of(tokens[tokens.length - 1] ?? '');
      }),
    pairs,
    connect: kraken.connector,
    scheduler,
    random: () => 0.5,
    backoff: { initialDelayMs: 500, maxDelayMs: 8_000, multiplier: 2, jitter: 0.2 },
    watchdogMs: 5_000,
    requestTimeoutMs: 3_000,
    ...overrides,
  });
  const seen: Rig['seen'] = [];
  return {
    scheduler,
    kraken,
    feed,
    seen,
    tokens,
    follow(until) {
      const state = { completedAt: null as number | null };
      const subscription: Subscription = feed.executions().subscribe({
        next: (event) => seen.push({ at: scheduler.now(), event }),
        complete: () => {
          state.completedAt = scheduler.now();
        },
      });
      scheduler.schedule(() => subscription.unsubscribe(), until);
      return state;
    },
    at(time, step) {
      scheduler.schedule(step, time - scheduler.now());
    },
    socket(index) {
      const socket = kraken.sockets[index];
      if (!socket) throw new Error(`no socket ${index}`);
      return socket;
    },
    run() {
      scheduler.flush();
    },
  };
}

const kinds = (seen: Rig['seen']): string[] => seen.map(({ at, event }) => `${at}:${event.kind}${event.kind === 'down' ? `/${event.reason}${event.terminal ? '/terminal' : ''}` : ''}`);

const limitBuy = (clientOrderId: string): OrderRequest => ({
  clientOrderId,
  pair: 'XXBTZUSD',
  side: 'buy',
  orderType: 'limit',
  volume: new Decimal('0.01'),
  price: new Decimal('59000.5'),
});

/** Subscribes to an order request and records how it ended, with the scheduler's time. */
function outcomeOf<T = PlacedOrder>(rig: Rig, order$: Observable<T>) {
  const outcome: { value?: T; error?: ExchangeError; at?: number } = {};
  order$.subscribe({
    next: (value) => {
      outcome.value = value;
      outcome.at = rig.scheduler.now();
    },
    error: (error: unknown) => {
      if (!(error instanceof ExchangeError)) throw error;
      outcome.error = error;
      outcome.at = rig.scheduler.now();
    },
  });
  return outcome;
}

describe('KrakenWsFeed: connection state machine (virtual time, fake socket)', () => {
  let r: Rig;
  beforeEach(() => {
    r = rig();
  });

  it('subscribes to executions with a fresh token and snapshots, is up on the ack, then delivers the snapshot as a resync point', () => {
    r.follow(100);
    r.run();
    expect(kinds(r.seen)).toEqual(['2:up', '2:snapshot']);
    expect(r.seen[0]?.event).toEqual({ kind: 'up', system: 'online' });
    const subscribe = r.socket(0).last('subscribe');
    expect(subscribe.params).toEqual({ channel: 'executions', token: 'token-1', snap_orders: true, snap_trades: true, order_status: true });
    expect(typeof subscribe.req_id).toBe('number');
    expect(r.socket(0).closedByClient).toBe(true);
  });

  it('a stalled socket (no frame, not even a heartbeat, for watchdogMs) is closed and replaced after the backoff, with a new token', () => {
    r.follow(20_000);
    r.run();
    // Silent from t=2: the watchdog fires at 5002; the reconnect waits 500 ms (jitter 0.2 at random 0.5 is exact).
    expect(kinds(r.seen).slice(0, 5)).toEqual(['2:up', '2:snapshot', '5002:down/stalled', '5504:up', '5504:snapshot']);
    expect(r.socket(0).closedByClient).toBe(true);
    expect(r.kraken.connectedAt.slice(0, 2)).toEqual([0, 5502]);
    expect(r.tokens.slice(0, 2)).toEqual(['token-1', 'token-2']);
    expect(r.socket(1).last('subscribe').params?.['token']).toBe('token-2');
  });

  it('heartbeats keep a quiet socket alive', () => {
    for (let t = 1_000; t < 20_000; t += 1_000) r.at(t, () => r.socket(0).push({ channel: 'heartbeat' }));
    r.follow(20_000);
    r.run();
    expect(kinds(r.seen)).toEqual(['2:up', '2:snapshot']);
    expect(r.kraken.sockets).toHaveLength(1);
  });

  it('the backoff grows with failures in a row and starts again after a connection got through', () => {
    const acknowledge = r.kraken.behaviour.onFrame;
    r.kraken.behaviour = {
      onOpen: (socket) => {
        if (socket.index < 3) socket.close(1006);
      },
      onFrame: acknowledge,
    };
    r.at(4_000, () => r.socket(3).close(1006));
    r.follow(6_000);
    r.run();
    // Connections asked for at 0, then 500, 1000, 2000 ms after each failure; after the good one, 500 again.
    expect(r.kraken.connectedAt).toEqual([0, 502, 1504, 3506, 4501]);
    expect(kinds(r.seen)).toEqual(['2:down/closed', '504:down/closed', '1506:down/closed', '3508:up', '3508:snapshot', '4001:down/closed', '4503:up', '4503:snapshot']);
  });

  it('jitters the reconnect delay with the injected random source', () => {
    r = rig({ random: () => 0 });
    r.at(10, () => r.socket(0).close(1006));
    r.follow(1_000);
    r.run();
    // 500 ms · (1 − 0.2): the earliest a jittered reconnect may come.
    expect(r.kraken.connectedAt).toEqual([0, 411]);
  });

  it('close code 1008 is terminal: a terminal down, the feed completes, and nothing reconnects', () => {
    r.at(10, () => r.socket(0).close(1008));
    const state = r.follow(60_000);
    r.run();
    expect(kinds(r.seen)).toEqual(['2:up', '2:snapshot', '11:down/refused/terminal']);
    expect(state.completedAt).toBe(11);
    expect(r.kraken.sockets).toHaveLength(1);
  });

  it('a skipped sequence number is surfaced as a gap, and the events keep coming', () => {
    const update = (status: string) => [{ order_id: 'OA', exec_type: status === 'new' ? 'new' : 'canceled', order_status: status }];
    r.at(10, () => r.socket(0).executions('update', update('new')));
    r.at(20, () => r.socket(0).executions('update', update('canceled'), 1));
    r.follow(100);
    r.run();
    expect(kinds(r.seen)).toEqual(['2:up', '2:snapshot', '11:order', '21:gap', '21:order']);
    expect(r.seen[3]?.event).toEqual({ kind: 'gap', expected: 3, received: 4 });
  });

  it('a refused token is worth a fresh one (down, then a new connection and token); a key without permission is terminal', () => {
    r.kraken.behaviour = {
      ...r.kraken.behaviour,
      onFrame: (socket, frame) => {
        if (socket.index === 0) socket.refuse(frame.req_id, 'subscribe', 'EAPI:Invalid token');
        else if (socket.index === 1) socket.refuse(frame.req_id, 'subscribe', 'EGeneral:Permission denied');
      },
    };
    const state = r.follow(60_000);
    r.run();
    expect(kinds(r.seen)).toEqual(['2:down/refused', '504:down/refused/terminal']);
    expect(r.tokens).toEqual(['token-1', 'token-2']);
    expect(state.completedAt).toBe(504);
    // No token ever appears in what the feed reports.
    expect(JSON.stringify(r.seen)).not.toContain('token-');
  });

  it('a token call that fails is a down, retried with backoff; an auth failure of it is terminal', () => {
    let calls = 0;
    r = rig({
      token: () =>
        defer(() => {
          calls += 1;
          throw new ExchangeError({ kind: calls === 1 ? 'retryable' : 'auth', codes: [calls === 1 ? 'EService:Unavailable' : 'EAPI:Invalid key'], endpoint: 'GetWebSocketsToken' });
        }),
    });
    const state = r.follow(60_000);
    r.run();
    expect(kinds(r.seen)).toEqual(['0:down/error', '500:down/refused/terminal']);
    expect(state.completedAt).toBe(500);
    expect(r.kraken.sockets).toHaveLength(0);
  });

  it('a frame that is not Kraken’s drops the connection (a fill may have been in it) and the new snapshot resyncs', () => {
    r.at(10, () => r.socket(0).push('{"channel":"executions","type":"update","data":[{"order_id":"OA"}],"sequence":2}'));
    r.follow(1_000);
    r.run();
    expect(kinds(r.seen)).toEqual(['2:up', '2:snapshot', '11:down/error', '513:up', '513:snapshot']);
    expect(r.socket(0).closedByClient).toBe(true);
    const down = r.seen[2]?.event;
    expect(down?.kind === 'down' && down.detail).toMatch(/exec_type/);
  });

  it('maps trades and order events to feed values with pair keys and exact decimals', () => {
    r.at(10, () =>
      r.socket(0).executions('update', [
        {
          order_id: 'OA',
          exec_id: 'TA',
          exec_type: 'trade',
          symbol: 'BTC/USD',
          side: 'buy',
          last_qty: 0.01,
          last_price: 59000.5,
          cum_qty: 0.01,
          order_status: 'partially_filled',
          liquidity_ind: 'm',
          fees: [{ asset: 'USD', qty: 1.47501 }],
        },
      ]),
    );
    r.follow(100);
    r.run();
    const [trade, order] = r.seen.slice(2).map((s) => s.event);
    expect(trade?.kind === 'trade' && [trade.trade.tradeId, trade.trade.pair, trade.trade.price.toFixed(), trade.trade.liquidity]).toEqual([
      'TA',
      'XXBTZUSD',
      '59000.5',
      'maker',
    ]);
    expect(order?.kind === 'order' && [order.order.status, order.order.volumeExecuted?.toFixed()]).toEqual(['partially-filled', '0.01']);
  });
});

describe('KrakenWsFeed: add_order / cancel_order over the socket', () => {
  let r: Rig;
  beforeEach(() => {
    r = rig();
    r.follow(100_000);
  });

  it('matches answers to requests by req_id, whatever order they come in', () => {
    let a: ReturnType<typeof outcomeOf<PlacedOrder>> = {};
    let b: ReturnType<typeof outcomeOf<PlacedOrder>> = {};
    r.at(10, () => {
      a = outcomeOf(r, r.feed.placeOrder(limitBuy('cl-a')));
      b = outcomeOf(r, r.feed.placeOrder(limitBuy('cl-b')));
    });
    r.at(20, () => {
      const frames = r.socket(0).sent.filter((f) => f.method === 'add_order');
      const [first, second] = frames;
      r.socket(0).answer(second?.req_id, 'add_order', { order_id: 'OB', cl_ord_id: 'cl-b' });
      r.socket(0).answer(first?.req_id, 'add_order', { order_id: 'OA', cl_ord_id: 'cl-a' }, 2);
    });
    r.run();
    expect([a.value?.txid, a.at, b.value?.txid, b.at]).toEqual(['OA', 22, 'OB', 21]);
    const frame = r.socket(0).last('add_order');
    expect(frame.params).toEqual({
      order_type: 'limit',
      side: 'buy',
      symbol: 'BTC/USD',
      order_qty: 0.01,
      limit_price: 59000.5,
      cl_ord_id: 'cl-b',
      token: 'token-1',
    });
  });

  it('sends a stop-loss-limit with its trigger in `triggers` and its limit in `limit_price`, amounts as JSON numbers', () => {
    r.at(10, () => {
      r.feed
        .placeOrder({ ...limitBuy('cl-s'), side: 'sell', orderType: 'stop-loss-limit', price: new Decimal('57000'), price2: new Decimal('56900.5'), deadline: Date.UTC(2026, 0, 5, 9, 0, 5) })
        .subscribe({ error: () => undefined });
    });
    r.run();
    expect(r.socket(0).last('add_order').params).toMatchObject({
      order_type: 'stop-loss-limit',
      limit_price: 56900.5,
      triggers: { reference: 'last', price: 57000, price_type: 'static' },
      deadline: '2026-01-05T09:00:05.000Z',
    });
  });

  it('an error answer is classified as REST would classify it', () => {
    let funds: ReturnType<typeof outcomeOf> = {};
    let limit: ReturnType<typeof outcomeOf> = {};
    r.at(10, () => {
      funds = outcomeOf(r, r.feed.placeOrder(limitBuy('cl-a')));
      limit = outcomeOf(r, r.feed.placeOrder(limitBuy('cl-b')));
      const [first, second] = r.socket(0).sent.filter((f) => f.method === 'add_order');
      r.socket(0).refuse(first?.req_id, 'add_order', 'EOrder:Insufficient funds');
      r.socket(0).refuse(second?.req_id, 'add_order', 'EOrder:Rate limit exceeded');
    });
    r.run();
    expect([funds.error?.kind, funds.error?.codes, funds.error?.endpoint]).toEqual(['refused', ['EOrder:Insufficient funds'], 'add_order']);
    expect(limit.error?.kind).toBe('rate-limited');
  });

  it('a request not answered within requestTimeoutMs is ambiguous: it may have been placed', () => {
    let lost: ReturnType<typeof outcomeOf> = {};
    r.at(10, () => {
      lost = outcomeOf(r, r.feed.placeOrder(limitBuy('cl-a')));
    });
    for (let t = 1_000; t < 5_000; t += 1_000) r.at(t, () => r.socket(0).push({ channel: 'heartbeat' }));
    r.run();
    expect([lost.error?.kind, lost.at]).toEqual(['ambiguous', 3_010]);
    expect(lost.error?.message).toMatch(/no response within 3000 ms/);
  });

  it('a request whose socket drops before the answer is ambiguous; one asked while down is retryable, and nothing is sent', () => {
    let dropped: ReturnType<typeof outcomeOf> = {};
    let whileDown: ReturnType<typeof outcomeOf<CancelOutcome>> = {};
    r.at(10, () => {
      dropped = outcomeOf(r, r.feed.placeOrder(limitBuy('cl-a')));
      r.socket(0).close(1006);
    });
    r.at(100, () => {
      whileDown = outcomeOf(r, r.feed.cancelOrder({ clientOrderId: 'cl-a' }));
    });
    r.run();
    expect([dropped.error?.kind, dropped.at]).toEqual(['ambiguous', 11]);
    expect([whileDown.error?.kind, whileDown.at]).toEqual(['retryable', 100]);
    expect(r.kraken.sockets.flatMap((s) => s.sent).filter((f) => f.method === 'cancel_order')).toEqual([]);
  });

  it('cancel_order sends one id in Kraken’s array form and resolves on its answer', () => {
    let cancel: { value?: unknown; at?: number } = {};
    r.at(10, () => {
      cancel = {};
      r.feed.cancelOrder({ txid: 'OA' }).subscribe((value) => {
        cancel = { value, at: r.scheduler.now() };
      });
      const frame = r.socket(0).last('cancel_order');
      r.socket(0).answer(frame.req_id, 'cancel_order', { order_id: 'OA' });
    });
    r.run();
    expect(r.socket(0).last('cancel_order').params).toEqual({ order_id: ['OA'], token: 'token-1' });
    expect(cancel).toEqual({ value: { count: 1, pending: false }, at: 11 });
  });
});

describe('KrakenWsFeed: ticker', () => {
  it('subscribes the WS symbols of the pairs asked for, is up once every symbol is acknowledged, and emits quotes by pair key', () => {
    const r = rig();
    const seen: Array<{ at: number; event: QuoteEvent }> = [];
    const subscription = r.feed.quotes(['XXBTZUSD', 'ETHUSD']).subscribe((event) => seen.push({ at: r.scheduler.now(), event }));
    r.at(10, () =>
      r.socket(0).push({ channel: 'ticker', type: 'update', data: [{ symbol: 'ETH/USD', bid: 2999.99, ask: 3000.01, last: 3000, volume: 1 }] }),
    );
    r.at(100, () => subscription.unsubscribe());
    r.run();
    expect(r.socket(0).last('subscribe').params).toEqual({ channel: 'ticker', symbol: ['BTC/USD', 'ETH/USD'], event_trigger: 'trades', snapshot: true });
    expect(r.tokens).toEqual([]);
    expect(seen.map((s) => `${s.at}:${s.event.kind}`)).toEqual(['2:up', '11:quote']);
    const quote = seen[1]?.event;
    expect(quote?.kind === 'quote' && [quote.quote.pair, quote.quote.bid.toFixed(), quote.quote.last.toFixed()]).toEqual(['XETHZUSD', '2999.99', '3000']);
  });

  it('refuses a pair it cannot name on the wire, without connecting', () => {
    const r = rig();
    let error: unknown;
    r.feed.quotes(['NOPE']).subscribe({ error: (e: unknown) => (error = e) });
    r.run();
    expect(error).toBeInstanceOf(ExchangeError);
    expect(r.kraken.sockets).toHaveLength(0);
  });
});
