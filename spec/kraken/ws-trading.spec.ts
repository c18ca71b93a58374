import { afterEach, describe, expect, it } from '@jest/globals';
import { Decimal } from 'decimal.js';
import { EMPTY, type Observable, type Subscription, lastValueFrom, map } from 'rxjs';
import { clientRateBudget, krakenCostModel } from '../../src/kraken/budget';
import { KrakenExchange } from '../../src/kraken/exchange';
import { KrakenWsFeed } from '../../src/kraken/ws-feed';
import { type WsOrderRouting, withWsOrders } from '../../src/kraken/ws-orders';
import { ExchangeError } from '../../src/model/errors';
import { type ExecutionEvent } from '../../src/model/feed';
import { type OrderRequest } from '../../src/model/order';
import { type PaperExchange } from '../../src/paper';
import { createExchangeDeps } from '../../src/streams/deps';
import { exchangeCall } from '../../src/streams/exchange-call';
import { testConfig } from '../../src/testing/config';
import { seededRandom, seededUuids } from '../../src/testing/seeded';
import { type IdleClock } from '../../src/time/idle-clock';
import { idleWs } from './support/idle-ws';
import { quiet, tuning } from '../streams/stream-deps';

/**
 * Placements and cancels over the authenticated socket (design.md §9), against the paper exchange on 127.0.0.1
 * over real HTTP and WebSocket, on one IdleClock: the REST lane is left to reads.
 */

const REST_TIMEOUT_MS = 10_000;

interface Rig {
  readonly clock: IdleClock;
  readonly paper: PaperExchange;
  readonly rest: KrakenExchange;
  readonly ws: KrakenWsFeed;
  readonly port: WsOrderRouting;
  /** REST methods sent, with the clock time. */
  readonly sent: Array<{ readonly method: string; readonly at: number }>;
  readonly events: ExecutionEvent[];
  /** Runs an observable to its end on the clock: its last value, or its error. */
  outcome<T>(source: Observable<T>, limitMs?: number): Promise<{ value?: T; error?: unknown }>;
  untilUp(): Promise<void>;
  close(): Promise<void>;
}

const rigs: Rig[] = [];

async function rig(): Promise<Rig> {
  const { clock, paper, client, ws, rest: sent } = await idleWs({ restTimeoutMs: REST_TIMEOUT_MS, jitter: 0 });
  const rest = new KrakenExchange(client);
  const events: ExecutionEvent[] = [];
  // The run listens to executions; that is what keeps the authenticated socket open.
  const listening: Subscription = ws.executions().subscribe((event) => events.push(event));
  const r: Rig = {
    clock,
    paper,
    rest,
    ws,
    port: withWsOrders(rest, ws),
    sent,
    events,
    outcome: async <T>(source: Observable<T>, limitMs = 60_000) => {
      const done = lastValueFrom(source).then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      );
      return clock.drive(done, limitMs);
    },
    untilUp: async () => {
      if (!(await clock.runUntil(() => ws.tradingUp, 30_000))) throw new Error('the socket did not come up');
    },
    close: async () => {
      listening.unsubscribe();
      await clock.settle();
      await paper.close();
    },
  };
  rigs.push(r);
  await r.untilUp();
  return r;
}

afterEach(async () => {
  for (const r of rigs.splice(0)) await r.close();
});

const limitBuy = (clientOrderId: string, volume = '0.01'): OrderRequest => ({
  clientOrderId,
  pair: 'XXBTZUSD',
  side: 'buy',
  orderType: 'limit',
  volume: new Decimal(volume),
  price: new Decimal('50000'),
});

const restWrites = (r: Rig): string[] => r.sent.map((s) => s.method).filter((m) => m === 'AddOrder' || m === 'CancelOrder');

describe('orders over the socket (withWsOrders, paper exchange on 127.0.0.1)', () => {
  it('places over WS with its cl_ord_id and deadline, visible over REST; then cancels over WS; REST carries only reads', async () => {
    const r = await rig();
    expect(r.port.transportOf('placeOrder')).toBe('websocket');
    expect(r.port.transportOf('queryOrders')).toBe('rest');
    const placed = await r.outcome(r.port.placeOrder({ ...limitBuy('cl-ws-1'), deadline: r.clock.now() + 5_000 }));
    expect(placed.error).toBeUndefined();
    const txid = placed.value?.txid ?? '';
    expect(txid).toMatch(/^O[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{6}$/);
    expect(placed.value?.clientOrderId).toBe('cl-ws-1');

    const open = await r.outcome(r.rest.openOrders({ clientOrderId: 'cl-ws-1' }));
    const snapshot = open.value?.get(txid);
    expect(snapshot?.clientOrderId).toBe('cl-ws-1');
    expect(snapshot?.status).toBe('open');
    expect(snapshot?.volume.toFixed()).toBe('0.01');

    const cancelled = await r.outcome(r.port.cancelOrder({ txid }));
    expect(cancelled.value).toEqual({ count: 1, pending: false });
    const query = await r.outcome(r.rest.queryOrders([txid]));
    expect(query.value?.get(txid)?.status).toBe('canceled');
    expect(restWrites(r)).toEqual([]);
  });

  it("lists closed orders by page over REST, as reconciliation at start reads them (the routing keeps the REST port's read)", async () => {
    const r = await rig();
    const placed = await r.outcome(r.port.placeOrder({ ...limitBuy('cl-ws-page'), deadline: r.clock.now() + 5_000 }));
    const txid = placed.value?.txid ?? '';
    await r.outcome(r.port.cancelOrder({ txid }));
    const page = await r.outcome(r.port.closedOrdersSince?.(0, 0) ?? EMPTY);
    expect(page.value?.count).toBe(1);
    expect(page.value?.orders.get(txid)?.clientOrderId).toBe('cl-ws-page');
    expect(r.sent.filter((s) => s.method === 'ClosedOrders')).toHaveLength(1);
  });

  it('a refusal over WS is classed like the same refusal over REST', async () => {
    const r = await rig();
    const tooBig = (id: string): OrderRequest => limitBuy(id, '100000');
    const overWs = await r.outcome(r.port.placeOrder(tooBig('cl-ws-big')));
    const overRest = await r.outcome(r.rest.placeOrder(tooBig('cl-rest-big')));
    expect(overWs.error).toBeInstanceOf(ExchangeError);
    expect(overRest.error).toBeInstanceOf(ExchangeError);
    const [ws, rest] = [overWs.error as ExchangeError, overRest.error as ExchangeError];
    expect(ws.kind).toBe('refused');
    expect(ws.kind).toBe(rest.kind);
    expect(ws.codes).toEqual(rest.codes);
    expect(ws.endpoint).toBe('add_order');
    // Only the REST one went over REST.
    expect(restWrites(r)).toEqual(['AddOrder']);
  });

  it('a cancel of a gone order over WS says the order is gone, as REST does', async () => {
    const r = await rig();
    const overWs = await r.outcome(r.port.cancelOrder({ txid: 'OAAAAA-AAAAA-AAAAAA' }));
    const overRest = await r.outcome(r.rest.cancelOrder({ txid: 'OAAAAA-AAAAA-AAAAAA' }));
    const [ws, rest] = [overWs.error as ExchangeError, overRest.error as ExchangeError];
    expect(ws).toBeInstanceOf(ExchangeError);
    expect(ws.facts.orderGone).toBe(true);
    expect(ws.kind).toBe(rest.kind);
    expect(ws.endpoint).toBe('cancel_order');
  });

  it('a placement whose socket drops after the send is ambiguous; a lookup finds it; while down, writes go over REST', async () => {
    const r = await rig();
    // The answer is held, then the socket dropped: the order was placed, the client never heard.
    r.paper.wsFaults.setDelay(1_000);
    let outcome: { value?: unknown; error?: unknown } | undefined;
    // Not driven: the clock stays where it is, so the held answer cannot come before the drop.
    const placing = r.port.placeOrder(limitBuy('cl-ws-drop')).subscribe({
      next: (value) => (outcome = { value }),
      error: (error: unknown) => (outcome = { error }),
    });
    await r.clock.settle();
    expect(outcome).toBeUndefined();
    r.paper.wsFaults.drop();
    r.paper.wsFaults.clear();
    await r.clock.settle();
    placing.unsubscribe();
    expect(outcome?.error).toBeInstanceOf(ExchangeError);
    expect((outcome?.error as ExchangeError).kind).toBe('ambiguous');
    expect(r.events.some((e) => e.kind === 'down')).toBe(true);
    expect(r.ws.tradingUp).toBe(false);
    expect(restWrites(r)).toEqual([]);

    const found = await r.outcome(r.rest.openOrders({ clientOrderId: 'cl-ws-drop' }));
    expect([...(found.value?.values() ?? [])].map((o) => o.clientOrderId)).toEqual(['cl-ws-drop']);

    // Still down (the reconnect waits its backoff): the next write goes over REST, once.
    expect(r.port.transportOf('placeOrder')).toBe('rest');
    const overRest = await r.outcome(r.port.placeOrder(limitBuy('cl-rest-while-down')));
    expect(overRest.value?.clientOrderId).toBe('cl-rest-while-down');
    expect(restWrites(r)).toEqual(['AddOrder']);

    await r.untilUp();
    expect(r.port.transportOf('cancelOrder')).toBe('websocket');
  });

  it('while a REST call is held past its timeout, a WS placement through exchangeCall is answered at once', async () => {
    const r = await rig();
    const deps = createExchangeDeps({
      config: testConfig(),
      port: r.port,
      budget: clientRateBudget(r.paper.tier),
      costs: krakenCostModel,
      scheduler: r.clock,
      newId: seededUuids(seededRandom(3)),
      random: seededRandom(4),
      log: quiet,
      tuning,
    });
    r.paper.faults.inject('QueryOrders', 'accept-then-timeout');
    const stuck = exchangeCall(deps, 'lookup', () => ({ kind: 'queryOrders' }), () => r.port.queryOrders(['OAAAAA-AAAAA-AAAAAA']), 'idempotent').subscribe({ error: () => undefined });
    await r.clock.settle();
    expect(r.sent.filter((s) => s.method === 'QueryOrders')).toHaveLength(1);

    const askedAt = r.clock.now();
    let answeredAt: number | undefined;
    const placed = await r.outcome(
      exchangeCall(deps, 'place', () => ({ kind: 'placeOrder', pair: 'XXBTZUSD' }), () => r.port.placeOrder(limitBuy('cl-ws-fast')), 'once').pipe(
        map((order) => {
          answeredAt = r.clock.now();
          return order;
        }),
      ),
    );
    stuck.unsubscribe();
    expect(placed.value?.clientOrderId).toBe('cl-ws-fast');
    // The REST lookup is still held (it would time out at askedAt + 10 s); the placement did not wait for it.
    expect(answeredAt).toBe(askedAt);
    expect(restWrites(r)).toEqual([]);
  });

  it('the same placement over REST waits behind the held REST call until its timeout (the stall the socket avoids)', async () => {
    const r = await rig();
    const deps = createExchangeDeps({
      config: testConfig(),
      port: r.rest,
      budget: clientRateBudget(r.paper.tier),
      costs: krakenCostModel,
      scheduler: r.clock,
      newId: seededUuids(seededRandom(3)),
      random: seededRandom(4),
      log: quiet,
      tuning,
    });
    r.paper.faults.inject('QueryOrders', 'accept-then-timeout');
    const stuck = exchangeCall(deps, 'lookup', () => ({ kind: 'queryOrders' }), () => r.rest.queryOrders(['OAAAAA-AAAAA-AAAAAA']), 'idempotent').subscribe({ error: () => undefined });
    await r.clock.settle();
    const askedAt = r.clock.now();
    let answeredAt: number | undefined;
    const placed = await r.outcome(
      exchangeCall(deps, 'place', () => ({ kind: 'placeOrder', pair: 'XXBTZUSD' }), () => r.rest.placeOrder(limitBuy('cl-rest-slow')), 'once').pipe(
        map((order) => {
          answeredAt = r.clock.now();
          return order;
        }),
      ),
    );
    stuck.unsubscribe();
    expect(placed.value?.clientOrderId).toBe('cl-rest-slow');
    expect((answeredAt ?? 0) - askedAt).toBeGreaterThanOrEqual(REST_TIMEOUT_MS);
  });
});
