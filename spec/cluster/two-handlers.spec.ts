import { afterEach, expect, it } from '@jest/globals';
import { type ExecutionReport } from '../../src/model/report';
import { type TradeSignal } from '../../src/model/signal';
import { CLUSTER_TTL_MS, Cluster, type ClusterNode } from './support/cluster-kit';
import { Relay } from './support/relay';
import { PG_URL, describeWithPostgres } from './support/services';

/**
 * Two handlers on one API key, in process: each behind `lead`, on one paper exchange and one PostgreSQL journal,
 * both on one idle clock. The paper exchange and each node's own client are the ground truth for who sent what.
 */

const marketBuy = (signalId: string): TradeSignal => ({
  signalId,
  pair: 'BTC/USD',
  side: 'buy',
  orderType: 'market',
  quantity: '0.01',
  stopLoss: '57000',
});

const ids = (prefix: string, from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, i) => `${prefix}${from + i}`);

/** The entry filled and its stop resting: what a placed, protected market buy ends as. */
const protectedEntry = (reports: readonly ExecutionReport[], signalId: string): boolean =>
  reports.some((r) => r.signalId === signalId && r.role === 'entry' && r.status === 'FILLED') &&
  reports.some((r) => r.signalId === signalId && r.role === 'stop-loss' && r.status === 'NEW');

describeWithPostgres('two handlers on one API key', () => {
  let cluster: Cluster | null = null;
  let relay: Relay | null = null;
  afterEach(async () => {
    await cluster?.close();
    cluster = null;
    await relay?.stop();
    relay = null;
  });

  /** Every order on the exchange carries a `cl_ord_id` used once, and each signal has exactly one entry order. */
  const expectPlacedOnce = (on: Cluster, signalIds: readonly string[]): void => {
    const orders = on.paper.inspect.orders();
    const clOrdIds = orders.map((o) => o.clOrdId);
    expect(new Set(clOrdIds).size).toBe(clOrdIds.length);
    for (const id of clOrdIds) expect(on.paper.inspect.acceptedCount(id ?? '')).toBe(1);
    for (const signalId of signalIds) {
      const entries = new Set(on.reports().filter((r) => r.signalId === signalId && r.role === 'entry' && r.clientOrderId !== null).map((r) => r.clientOrderId));
      expect([signalId, entries.size]).toEqual([signalId, 1]);
      const [entry] = [...entries];
      expect([signalId, on.paper.inspect.ordersByClOrdId(entry ?? '').length]).toEqual([signalId, 1]);
    }
  };

  const sentIds = (node: ClusterNode): string[] => node.sent.map((s) => s.clOrdId);

  it('only the leader ever sends; deposed, it can neither write nor send, and the standby takes over and finishes', async () => {
    const on = (cluster = await Cluster.start());
    const a = await on.node('a');
    await on.until('a leads', () => a.leads());
    const b = await on.node('b');
    await on.until('b stands by', () => b.events.length > 0);
    expect(b.events).toEqual(['0: standby a#1']);

    for (const id of ids('s', 1, 5)) on.signals.next(marketBuy(id));
    await on.until('s1..s5 placed and protected by a', () => ids('s', 1, 5).every((id) => protectedEntry(a.reports, id)));
    // The standby has not touched the exchange: not one request on the shared key.
    expect([b.requests, b.reports]).toEqual([0, []]);

    // a is cut off from the lease (its renewals hang) but not from the journal: it still believes it leads.
    a.partitioned = true;
    await on.until('b takes the lease', () => b.events.some((e) => e.includes('leading')), 120_000);
    const takenAt = Number(b.events.find((e) => e.includes('leading'))?.split(':')[0]);
    // A signal reaches a while it still believes it leads: its journal write is fenced, so nothing is sent for it.
    expect(a.leads()).toBe(true);
    on.signals.next(marketBuy('x1'));
    await on.until('a learns it was deposed', () => a.events.some((e) => e.includes('lost')));
    expect(a.events.at(-1)).toBe(
      `${takenAt}: lost a#1: a journal write was refused: journal recordSignal refused: this handler's lease (epoch 1) ` +
        "is no longer the account's (epoch 2): another handler has taken it over",
    );
    await on.until('b leads', () => b.leads(), 120_000);
    const readyAt = b.readyAt() ?? Number.NaN;
    // The TTL lapsed, then b waited out the longest AddOrder a could still have had in flight: deadline + request timeout.
    expect(readyAt - takenAt).toBe(on.config.entry.deadlineMs + on.config.exchange.requestTimeoutMs);

    for (const id of ids('s', 6, 10)) on.signals.next(marketBuy(id));
    await on.until('s6..s10 placed and protected by b', () => ids('s', 6, 10).every((id) => protectedEntry(b.reports, id)));
    expect(on.reports().filter((r) => r.signalId === 'x1' && r.clientOrderId !== null)).toEqual([]);
    // a sent nothing once b held the lease; b sent nothing before it was ready.
    expect(a.sent.filter((s) => s.sentAt >= takenAt)).toEqual([]);
    expect(b.sent.filter((s) => s.sentAt < readyAt)).toEqual([]);
    expect(sentIds(a).filter((id) => sentIds(b).includes(id))).toEqual([]);
    // Every order on the exchange went out once, from one node's client.
    expect(on.paper.inspect.orders().map((o) => o.clOrdId).sort()).toEqual([...sentIds(a), ...sentIds(b)].sort());
    expectPlacedOnce(on, ids('s', 1, 10));
    // Every fill protected: one resting stop per entry, a's kept by b (restored, not placed again).
    expect(on.paper.inspect.openOrders().filter((o) => o.orderType === 'stop-loss')).toHaveLength(10);
    expect(sentIds(b)).toHaveLength(10);
  });

  it('a leader killed outright is replaced once its lease lapses, and the new one settles what it left', async () => {
    const on = (cluster = await Cluster.start());
    const a = await on.node('a');
    await on.until('a leads', () => a.leads());
    const b = await on.node('b');
    for (const id of ids('k', 1, 3)) on.signals.next(marketBuy(id));
    await on.until('k1..k3 protected by a', () => ids('k', 1, 3).every((id) => protectedEntry(a.reports, id)));
    a.kill();
    await on.until('b leads', () => b.leads(), 120_000);
    for (const id of ids('k', 4, 6)) on.signals.next(marketBuy(id));
    await on.until('k4..k6 protected by b', () => ids('k', 4, 6).every((id) => protectedEntry(b.reports, id)));
    expectPlacedOnce(on, ids('k', 1, 6));
    expect(on.paper.inspect.openOrders().filter((o) => o.orderType === 'stop-loss')).toHaveLength(6);
  });

  it('PostgreSQL unreachable: no order is sent while it is away, and once it is back each signal is placed exactly once', async () => {
    const cut = (relay = new Relay(PG_URL));
    await cut.start();
    const on = (cluster = await Cluster.start());
    const a = await on.node('a', cut.url);
    await on.until('a leads', () => a.leads());
    await cut.stop();
    for (const id of ids('p', 1, 3)) on.signals.next(marketBuy(id));
    // Less than the lease's TTL: the leader keeps its lease, its journal waits, nothing is sent or rejected.
    await on.clock.advance(CLUSTER_TTL_MS / 2);
    expect(on.paper.inspect.requestCount('AddOrder')).toBe(0);
    expect(a.reports.filter((r) => r.status === 'REJECTED')).toEqual([]);
    await cut.start();
    await on.until('p1..p3 placed and protected', () => ids('p', 1, 3).every((id) => protectedEntry(a.reports, id)));
    expectPlacedOnce(on, ids('p', 1, 3));
    // Three entries and their three stops, each sent once.
    expect(on.paper.inspect.requestCount('AddOrder')).toBe(6);
    expect(a.events).toEqual(['0: leading a#1', '0: ready a#1']);
  });
});
