import { afterEach, describe, expect, it } from '@jest/globals';
import { type Observable, type Subscription, defer, lastValueFrom, map, of } from 'rxjs';
import { clientRateBudget, krakenCostModel } from '../../src/kraken/budget';
import { KrakenExchange } from '../../src/kraken/exchange';
import { WsTokenSource } from '../../src/kraken/ws-token';
import { type RateBudget, type RateCost } from '../../src/model/budget';
import { type ExecutionEvent, type FeedCallGate } from '../../src/model/feed';
import { isBreakerOpenError } from '../../src/operators/circuit-breaker';
import { type ExchangeDeps, createExchangeDeps } from '../../src/streams/deps';
import { exchangeCall } from '../../src/streams/exchange-call';
import { testConfig } from '../../src/testing/config';
import { seededRandom, seededUuids } from '../../src/testing/seeded';
import { quiet, tuning } from '../streams/stream-deps';
import { type IdleWs, idleWs } from './support/idle-ws';

/**
 * The feed's GetWebSocketsToken is a private REST call like any other (issue 14 item 1): charged to the run's
 * rate gate, sent in its private-call slot, guarded and counted by its circuit breaker. Against the paper
 * exchange on 127.0.0.1 over real HTTP and WebSocket, on one IdleClock.
 */

interface Rig {
  readonly ws: IdleWs;
  readonly deps: ExchangeDeps;
  /** Every cost the run's gate charged, with the clock time. */
  readonly charged: Array<{ readonly cost: RateCost; readonly at: number }>;
  readonly events: ExecutionEvent[];
  readonly tokenCalls: () => number[];
  listen(): void;
}

const rigs: Array<{ ws: IdleWs; subscriptions: Subscription[] }> = [];

async function rig(): Promise<Rig> {
  const ws = await idleWs({ restTimeoutMs: 10_000, jitter: 0 });
  const charged: Rig['charged'] = [];
  const budget = clientRateBudget(ws.paper.tier);
  const counting: RateBudget = {
    waitMs: (cost, now) => budget.waitMs(cost, now),
    record: (cost, now) => {
      charged.push({ cost, at: now });
      budget.record(cost, now);
    },
    snap: (cost, now) => budget.snap(cost, now),
  };
  const deps = createExchangeDeps({
    config: testConfig(),
    port: new KrakenExchange(ws.client),
    budget: counting,
    costs: krakenCostModel,
    scheduler: ws.clock,
    newId: seededUuids(seededRandom(3)),
    random: seededRandom(4),
    log: quiet,
    tuning,
    feed: ws.ws,
  });
  const subscriptions: Subscription[] = [];
  rigs.push({ ws, subscriptions });
  const events: ExecutionEvent[] = [];
  return {
    ws,
    deps,
    charged,
    events,
    tokenCalls: () => ws.rest.filter((call) => call.method === 'GetWebSocketsToken').map((call) => call.at),
    listen: () => {
      const feed = deps.feed;
      if (!feed) throw new Error('the run has no feed');
      subscriptions.push(feed.executions().subscribe((event) => events.push(event)));
    },
  };
}

afterEach(async () => {
  for (const { ws, subscriptions } of rigs.splice(0)) {
    for (const subscription of subscriptions) subscription.unsubscribe();
    await ws.clock.settle();
    await ws.paper.close();
  }
});

describe('the feed\'s token call goes through the run\'s gate and breaker', () => {
  it('charges each token to the rate gate as one REST unit, like OpenOrders', async () => {
    const r = await rig();
    const before = r.ws.clock.now();
    r.listen();
    expect(await r.ws.clock.runUntil(() => r.events.some((e) => e.kind === 'snapshot'), 30_000)).toBe(true);
    expect(r.tokenCalls()).toHaveLength(1);
    expect(r.charged.filter((c) => c.at >= before)).toEqual([{ cost: { rest: 1 }, at: r.tokenCalls()[0] }]);
  });

  it('a token call failing again and again opens the breaker, which then refuses every private call without sending it', async () => {
    const r = await rig();
    r.ws.paper.faults.inject('GetWebSocketsToken', 'service-unavailable', 1_000);
    r.listen();
    const threshold = testConfig().breaker.failureThreshold;
    expect(await r.ws.clock.runUntil(() => r.deps.breaker.state === 'open', 60_000)).toBe(true);
    // Each failure was one request that reached the exchange and counted; the one that tripped it was the sixth.
    expect(r.tokenCalls()).toHaveLength(threshold);
    expect(r.events.some((e) => e.kind === 'up')).toBe(false);
    // While open, the feed's reconnects ask for no token, and the run's other private calls are refused too.
    const openedAt = r.ws.clock.now();
    const refusal = r.deps.breaker.refusal();
    expect(refusal).not.toBeNull();
    await r.ws.clock.advance((refusal?.reopensAt ?? openedAt) - openedAt - 1);
    expect(r.tokenCalls()).toHaveLength(threshold);
    expect(r.events.filter((e) => e.kind === 'down').length).toBeGreaterThan(0);
    const orders = await r.ws.clock.drive(
      lastValueFrom(exchangeCall(r.deps, 'monitor', () => ({ kind: 'openOrders' }), () => r.deps.port.openOrders(), 'idempotent')).then(
        () => null,
        (error: unknown) => error,
      ),
      10_000,
    );
    expect(isBreakerOpenError(orders)).toBe(true);
    expect(r.ws.rest.filter((call) => call.method === 'OpenOrders')).toEqual([]);
  });

  it('once the failures stop, the probe after the cool-down is a token call and the feed comes up', async () => {
    const r = await rig();
    const threshold = testConfig().breaker.failureThreshold;
    r.ws.paper.faults.inject('GetWebSocketsToken', 'service-unavailable', threshold);
    r.listen();
    expect(await r.ws.clock.runUntil(() => r.deps.breaker.state === 'open', 60_000)).toBe(true);
    expect(await r.ws.clock.runUntil(() => r.events.some((e) => e.kind === 'up'), 60_000)).toBe(true);
    expect(r.deps.breaker.state).toBe('closed');
    expect(r.tokenCalls()).toHaveLength(threshold + 1);
  });

  it('a token asked for after the run stopped listening goes straight to the client, outside the run\'s gate', async () => {
    const r = await rig();
    r.listen();
    expect(await r.ws.clock.runUntil(() => r.events.some((e) => e.kind === 'snapshot'), 30_000)).toBe(true);
    for (const { subscriptions } of rigs) for (const subscription of subscriptions.splice(0)) subscription.unsubscribe();
    const charges = r.charged.length;
    const direct = r.ws.ws.executions().subscribe();
    try {
      expect(await r.ws.clock.runUntil(() => r.tokenCalls().length === 2, 30_000)).toBe(true);
      expect(r.charged).toHaveLength(charges);
    } finally {
      direct.unsubscribe();
    }
  });
});

describe('WsTokenSource', () => {
  const gateNamed = (name: string, calls: string[]): FeedCallGate => <T>(call: { kind: string }, send: () => Observable<T>) =>
    defer(() => {
      calls.push(`${name}:${call.kind}`);
      return send();
    });

  it('asks through the latest gate still installed, and straight through once none is', async () => {
    let fetched = 0;
    const source = new WsTokenSource(() => defer(() => of(`token-${++fetched}`)));
    const calls: string[] = [];
    const token = (): Promise<string> => lastValueFrom(source.token());
    expect(await token()).toBe('token-1');
    const releaseA = source.guardCalls(gateNamed('A', calls));
    const releaseB = source.guardCalls(gateNamed('B', calls));
    expect(await token()).toBe('token-2');
    releaseB();
    releaseB();
    expect(await token()).toBe('token-3');
    releaseA();
    expect(await token()).toBe('token-4');
    expect(calls).toEqual(['B:webSocketsToken', 'A:webSocketsToken']);
  });

  it('picks the gate when the token is subscribed, not when it was asked for', async () => {
    const source = new WsTokenSource(() => of('t'));
    const calls: string[] = [];
    const later = source.token();
    source.guardCalls(gateNamed('A', calls));
    expect(await lastValueFrom(later.pipe(map((t) => t.toUpperCase())))).toBe('T');
    expect(calls).toEqual(['A:webSocketsToken']);
  });
});
