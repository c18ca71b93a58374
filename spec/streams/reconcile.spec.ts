import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { Decimal } from 'decimal.js';
import { type Observable, concatMap, map, timer } from 'rxjs';
import { type TestScheduler } from 'rxjs/testing';
import { openMemoryJournal, createMemoryJournalStore } from '../../src/journal/memory';
import { openSqliteJournal } from '../../src/journal/sqlite';
import { type Journal } from '../../src/model/journal';
import { type OrderSnapshot } from '../../src/model/order';
import { type ExecutionReport } from '../../src/model/report';
import { type ReconcilePlan, ReconcileError, reconcile } from '../../src/streams/reconcile';
import { type Step } from '../../src/streams/step';
import { FakePort, type PortScript, book, exchangeError, marbles, ordersOf, snapshot } from './fake-exchange';
import { exchangeDeps } from './stream-deps';
import { type Seeded, accepted, ambiguous, cancelSent, fillOf, intentOf, ordersIn, seed, sent } from './support-reconcile';

type Cold = <T>(marbles: string, values?: Record<string, T>, error?: unknown) => Observable<T>;

interface Run {
  readonly reports: Array<{ readonly at: number; readonly report: ExecutionReport }>;
  readonly plans: ReconcilePlan[];
  readonly error: () => unknown;
  readonly completed: () => boolean;
}

/** Subscribes `reconcile` at frame `startAt` over a fresh run's deps; read the result after `flush()`. */
function start(journal: Journal, port: FakePort, scheduler: TestScheduler, startAt = 0): Run {
  const deps = exchangeDeps(port, scheduler);
  const reports: Run['reports'] = [];
  const plans: ReconcilePlan[] = [];
  let error: unknown = null;
  let completed = false;
  timer(startAt, scheduler)
    .pipe(concatMap(() => reconcile(journal, deps, { pairs: book })))
    .subscribe({
      next: (step: Step<ReconcilePlan>) => (step.kind === 'report' ? reports.push({ at: scheduler.now(), report: step.report }) : plans.push(step.value)),
      error: (e: unknown) => (error = e),
      complete: () => (completed = true),
    });
  return { reports, plans, error: () => error, completed: () => completed };
}

const statuses = (run: Run): string[] => run.reports.map(({ report }) => `${report.clientOrderId} ${report.status}`);
const newJournal = (): Journal => openMemoryJournal({ account: 'acct-1', store: createMemoryJournalStore() });
const answer = (cold: Cold, orders: ReadonlyMap<string, OrderSnapshot>): Observable<ReadonlyMap<string, OrderSnapshot>> =>
  cold('10ms (a|)', { a: orders });

/** An exchange whose open and queried orders are `orders`; lookups by client order id see the same. */
function exchangeOf(cold: Cold, scheduler: TestScheduler, orders: () => readonly OrderSnapshot[], extra: PortScript = {}): FakePort {
  const open = (): OrderSnapshot[] => orders().filter((order) => order.status === 'open' || order.status === 'pending');
  const byClientId = (list: readonly OrderSnapshot[], clientOrderId: string | undefined): ReadonlyMap<string, OrderSnapshot> =>
    ordersOf(...list.filter((order) => clientOrderId === undefined || order.clientOrderId === clientOrderId));
  return new FakePort(
    {
      openOrders: (filter) => answer(cold, byClientId(open(), filter?.clientOrderId)),
      closedOrders: (filter) => answer(cold, byClientId(orders().filter((order) => !open().includes(order)), filter?.clientOrderId)),
      queryOrders: (txids) => answer(cold, ordersOf(...orders().filter((order) => txids.includes(order.txid)))),
      ...extra,
    },
    scheduler,
  );
}

describe('reconcile', () => {
  it('reports a fill that happened while the process was down once, and a second start reports nothing new', () => {
    marbles(({ cold, scheduler, flush }) => {
      const journal = newJournal();
      seed(journal, [[intentOf({ clientOrderId: 'e1' }), sent(0), accepted('OE1', 100)]]);
      const exchange = [snapshot({ txid: 'OE1', clientOrderId: 'e1', status: 'closed', volumeExecuted: '1', price: '100', fee: '0.4' })];
      const port = exchangeOf(cold, scheduler, () => exchange);

      const first = start(journal, port, scheduler);
      flush();
      expect(first.error()).toBeNull();
      expect(statuses(first)).toEqual(['e1 FILLED']);
      const filled = first.reports[0]?.report;
      expect(filled?.quantityFilled.toFixed()).toBe('1');
      expect(filled?.lastFillQuantity?.toFixed()).toBe('1');
      expect(filled?.averageFillPrice?.toFixed()).toBe('100');
      expect(filled?.commission.toFixed()).toBe('0.4');
      expect(ordersIn(journal).get('e1')?.state.status).toBe('filled');
      // What it filled has no stop yet: the plan says to protect all of it at the journaled stop.
      expect(first.plans).toHaveLength(1);
      expect(first.plans[0]?.toProtect.map((p) => [p.entry.clientOrderId, p.quantity.toFixed(), p.stopPrice.toFixed(), p.protectionMode])).toEqual([
        ['e1', '1', '90', 'stop-resting'],
      ]);
      expect(first.completed()).toBe(true);

      const second = start(journal, port, scheduler, 1_000);
      flush();
      expect(second.reports).toEqual([]);
      expect(second.plans[0]?.toProtect.map((p) => p.entry.clientOrderId)).toEqual(['e1']);
      // The second start asks only for the open set: nothing journaled is unresolved any more.
      expect(port.callsOf('openOrders')).toHaveLength(2);
      expect(port.callsOf('queryOrders')).toHaveLength(1);
    });
  });

  it('reports a partial fill of a working entry and plans to follow it and cancel it at its timeout (past due: now)', () => {
    marbles(({ cold, scheduler, flush }) => {
      const journal = newJournal();
      seed(journal, [
        [intentOf({ clientOrderId: 'late', duties: { limitTimeoutMs: 10_000 } }), sent(0), accepted('OL', 100)],
        [intentOf({ clientOrderId: 'soon', duties: { limitTimeoutMs: 60_000 } }), sent(0), accepted('OS', 200), fillOf('OS', 'T1', '0.2', 300)],
      ]);
      const exchange = [
        snapshot({ txid: 'OL', clientOrderId: 'late', status: 'open' }),
        snapshot({ txid: 'OS', clientOrderId: 'soon', status: 'open', volumeExecuted: '0.5', price: '100' }),
      ];
      const port = exchangeOf(cold, scheduler, () => exchange);
      const run = start(journal, port, scheduler, 20_000);
      flush();
      expect(run.error()).toBeNull();
      expect(statuses(run)).toEqual(['soon PARTIALLY_FILLED']);
      expect(run.reports[0]?.report.lastFillQuantity?.toFixed()).toBe('0.3');
      expect(run.reports[0]?.report.quantityFilled.toFixed()).toBe('0.5');
      const plan = run.plans[0];
      // The 'late' entry was due at 10 100, before the start (20 010 once OpenOrders answered): due now.
      expect(plan?.toCancelAtTimeout.map((c) => [c.entry.clientOrderId, c.txid, c.dueAt])).toEqual([
        ['late', 'OL', 20_010],
        ['soon', 'OS', 60_200],
      ]);
      expect(plan?.toCancel).toEqual([]);
      expect(plan?.followed.map((o) => [o.txid, o.context.role, o.context.clientOrderId])).toEqual([
        ['OL', 'entry', 'late'],
        ['OS', 'entry', 'soon'],
      ]);
      // Still working: protected when it ends, not now.
      expect(plan?.toProtect).toEqual([]);
      // One OpenOrders showed both: nothing to query.
      expect(port.callsOf('queryOrders')).toHaveLength(0);
    });
  });

  it('proves a placement never answered absent only past its deadline plus the OpenOrders lag, looking again until then', () => {
    marbles(({ cold, scheduler, flush }) => {
      const journal = newJournal();
      // Sent at 2 000 with a deadline of 5 000, then the process died: absence is provable from 7 000 (lag 2 000).
      seed(journal, [[intentOf({ clientOrderId: 'lost' }), sent(2_000, 5_000)]]);
      const port = exchangeOf(cold, scheduler, () => []);
      const run = start(journal, port, scheduler);
      flush();
      expect(run.error()).toBeNull();
      const lookups = port.callsOf('openOrders').filter((call) => call.args !== undefined);
      expect(lookups.length).toBeGreaterThan(1);
      // Every lookup before 7 000 found nothing and proved nothing; the one after it did.
      expect(lookups.map((call) => call.at).filter((at) => at < 7_000).length).toBe(lookups.length - 1);
      expect(statuses(run)).toEqual(['lost REJECTED']);
      expect(run.reports[0]?.at).toBeGreaterThanOrEqual(7_000);
      expect(run.reports[0]?.report.reason).toMatch(/^not placed: proven absent/);
      const events = ordersIn(journal).get('lost')?.events.map((entry) => entry.event.kind);
      expect(events).toEqual(['sent', 'proven-absent', 'rejected']);
    });
  });

  it('adopts a placement never answered that a lookup finds, with the fills it made meanwhile', () => {
    marbles(({ cold, scheduler, flush }) => {
      const journal = newJournal();
      seed(journal, [[intentOf({ clientOrderId: 'amb' }), sent(0), ambiguous(50)]]);
      const exchange = [snapshot({ txid: 'OA', clientOrderId: 'amb', status: 'closed', volumeExecuted: '1', price: '101' })];
      const port = exchangeOf(cold, scheduler, () => exchange);
      const run = start(journal, port, scheduler);
      flush();
      expect(run.error()).toBeNull();
      expect(statuses(run)).toEqual(['amb NEW', 'amb FILLED']);
      expect(run.reports[1]?.report.exchangeOrderId).toBe('OA');
      const order = ordersIn(journal).get('amb');
      expect([order?.state.status, order?.state.txid]).toEqual(['filled', 'OA']);
      expect(run.plans[0]?.toProtect.map((p) => [p.entry.clientOrderId, p.txid, p.quantity.toFixed()])).toEqual([['amb', 'OA', '1']]);
    });
  });

  it('never rejects an ambiguous placement the lookups could not settle: it stays ambiguous and is listed unsettled', () => {
    marbles(({ cold, scheduler, flush }) => {
      const journal = newJournal();
      seed(journal, [[intentOf({ clientOrderId: 'amb' }), sent(0), ambiguous(50)]]);
      const down = exchangeError('retryable', 'EService:Unavailable', 'OpenOrders');
      const port = new FakePort(
        // The start's own OpenOrders answers; every lookup meets an exchange that is down.
        { openOrders: (filter) => (filter === undefined ? answer(cold, ordersOf()) : cold('10ms #', {}, down)) },
        scheduler,
      );
      scheduler.maxFrames = 10 * 60_000;
      const run = start(journal, port, scheduler);
      flush();
      expect(run.error()).toBeNull();
      expect(run.reports).toEqual([]);
      expect(run.plans[0]?.unsettled.map((u) => [u.intent.clientOrderId, u.status])).toEqual([['amb', 'ambiguous']]);
      expect(ordersIn(journal).get('amb')?.state.status).toBe('ambiguous');
    });
  });

  it('lists an order on the account that the journal does not know, and never touches it', () => {
    marbles(({ cold, scheduler, flush }) => {
      const journal = newJournal();
      seed(journal, [[intentOf({ clientOrderId: 'e1' }), sent(0), accepted('OE1', 100)]]);
      const exchange = [
        snapshot({ txid: 'OE1', clientOrderId: 'e1', status: 'open' }),
        snapshot({ txid: 'OX', clientOrderId: 'someone-else', status: 'open', side: 'sell', volume: '3' }),
        snapshot({ txid: 'OY', clientOrderId: null, status: 'open' }),
      ];
      const port = exchangeOf(cold, scheduler, () => exchange);
      const run = start(journal, port, scheduler);
      flush();
      expect(run.error()).toBeNull();
      expect(run.reports).toEqual([]);
      expect(run.plans[0]?.foreign.map((f) => [f.txid, f.clientOrderId, f.side, f.volume.toFixed()])).toEqual([
        ['OX', 'someone-else', 'sell', '3'],
        ['OY', null, 'buy', '1'],
      ]);
      expect(run.plans[0]?.followed.map((o) => o.txid)).toEqual(['OE1']);
      expect(port.calls.map((call) => call.method)).toEqual(['openOrders']);
    });
  });

  it('keeps a resting stop known and does not protect what it already covers; resumes the take-profit watch', () => {
    marbles(({ cold, scheduler, flush }) => {
      const journal = newJournal();
      const entry = intentOf({ clientOrderId: 'e1', orderType: 'market', price: null, duties: { takeProfit: new Decimal('120') } });
      const stop = intentOf({
        clientOrderId: 's1',
        role: 'stop-loss',
        parentClientOrderId: 'e1',
        side: 'sell',
        orderType: 'stop-loss',
        volume: new Decimal('0.6'),
        price: new Decimal('90'),
        duties: { stopLoss: null, protectionMode: null },
      });
      seed(journal, [
        [entry, sent(0), accepted('OE1', 10), fillOf('OE1', 'T1', '1', 20)],
        [stop, sent(40), accepted('OS1', 50)],
      ]);
      const exchange = [snapshot({ txid: 'OS1', clientOrderId: 's1', status: 'open', side: 'sell', orderType: 'stop-loss', volume: '0.6', stopPrice: '90' })];
      const port = exchangeOf(cold, scheduler, () => exchange);
      const run = start(journal, port, scheduler);
      flush();
      expect(run.error()).toBeNull();
      const plan = run.plans[0];
      expect(plan?.restingStops.map((s) => [s.txid, s.parentClientOrderId, s.pair, s.side, s.quantity.toFixed(), s.stopPrice?.toFixed()])).toEqual([
        ['OS1', 'e1', 'XXBTZUSD', 'sell', '0.6', '90'],
      ]);
      // 1 filled, 0.6 under the resting stop: 0.4 to protect.
      expect(plan?.toProtect.map((p) => [p.entry.clientOrderId, p.quantity.toFixed()])).toEqual([['e1', '0.4']]);
      expect(plan?.takeProfitWatches.map((w) => [w.entry.clientOrderId, w.pair, w.exitSide, w.takeProfit.toFixed(), w.quantity.toFixed()])).toEqual([
        ['e1', 'XXBTZUSD', 'sell', '120', '1'],
      ]);
      expect(plan?.followed.map((o) => [o.txid, o.context.role, o.context.stopPrice?.toFixed()])).toEqual([['OS1', 'stop-loss', '90']]);
    });
  });

  it('does not protect again what a stop that filled while down already sold', () => {
    marbles(({ cold, scheduler, flush }) => {
      const journal = newJournal();
      const entry = intentOf({ clientOrderId: 'e1', orderType: 'market', price: null });
      const stop = intentOf({ clientOrderId: 's1', role: 'stop-loss', parentClientOrderId: 'e1', side: 'sell', orderType: 'stop-loss', price: new Decimal('90') });
      seed(journal, [
        [entry, sent(0), accepted('OE1', 10), fillOf('OE1', 'T1', '1', 20)],
        [stop, sent(40), accepted('OS1', 50)],
      ]);
      const exchange = [snapshot({ txid: 'OS1', clientOrderId: 's1', status: 'closed', side: 'sell', orderType: 'stop-loss', volumeExecuted: '1', price: '89.9' })];
      const port = exchangeOf(cold, scheduler, () => exchange);
      const run = start(journal, port, scheduler);
      flush();
      expect(statuses(run)).toEqual(['s1 FILLED']);
      expect(run.plans[0]?.toProtect).toEqual([]);
      expect(run.plans[0]?.restingStops).toEqual([]);
    });
  });

  it('asks for 120 journaled orders with one OpenOrders and QueryOrders in batches of 50', () => {
    marbles(({ cold, scheduler, flush }) => {
      const journal = newJournal();
      const ids = Array.from({ length: 120 }, (_, n) => n);
      seed(journal, ids.map((n) => [intentOf({ clientOrderId: `e${n}` }), sent(0), accepted(`O${n}`, 10)] as const));
      // 20 still open; 100 ended (filled) while the process was down.
      const exchange = ids.map((n) =>
        snapshot({ txid: `O${n}`, clientOrderId: `e${n}`, status: n < 20 ? 'open' : 'closed', volumeExecuted: n < 20 ? '0' : '1', price: '100' }),
      );
      const port = exchangeOf(cold, scheduler, () => exchange);
      const run = start(journal, port, scheduler);
      flush();
      expect(run.error()).toBeNull();
      expect(port.callsOf('openOrders')).toHaveLength(1);
      expect(port.callsOf('queryOrders').map((call) => (call.args as readonly string[]).length)).toEqual([50, 50]);
      expect(port.calls).toHaveLength(3);
      expect(run.reports.filter(({ report }) => report.status === 'FILLED')).toHaveLength(100);
      expect(run.plans[0]?.followed).toHaveLength(20);
      expect(run.plans[0]?.toProtect).toHaveLength(100);
    });
  });

  it('emits the reports as the transitions are journaled, then the plan, and completes', () => {
    marbles(({ cold, scheduler, expectObservable }) => {
      const journal = newJournal();
      seed(journal, [[intentOf({ clientOrderId: 'e1' }), sent(0), accepted('OE1', 100)]]);
      const port = exchangeOf(cold, scheduler, () => [snapshot({ txid: 'OE1', clientOrderId: 'e1', status: 'closed', volumeExecuted: '1', price: '100' })]);
      const steps$ = reconcile(journal, exchangeDeps(port, scheduler), { pairs: book }).pipe(
        map((step) => (step.kind === 'report' ? step.report.status : `plan:${step.value.toProtect.length}`)),
      );
      // OpenOrders answers at 10, QueryOrders at 20: the FILLED report and the plan at once.
      expectObservable(steps$).toBe('20ms (fp|)', { f: 'FILLED', p: 'plan:1' });
    });
  });

  it('reads the pair book once (a public call) when none is given', () => {
    marbles(({ cold, scheduler, flush }) => {
      const journal = newJournal();
      seed(journal, [[intentOf({ clientOrderId: 'e1' }), sent(0), accepted('OE1', 100)]]);
      const port = exchangeOf(cold, scheduler, () => [snapshot({ txid: 'OE1', clientOrderId: 'e1', status: 'open' })], {
        pairs: () => cold('5ms (a|)', { a: book }),
      });
      const plans: ReconcilePlan[] = [];
      reconcile(journal, exchangeDeps(port, scheduler)).subscribe((step) => step.kind === 'done' && plans.push(step.value));
      flush();
      expect(port.calls.map((call) => call.method)).toEqual(['pairs', 'openOrders']);
      expect(plans[0]?.followed.map((o) => [o.txid, o.context.commissionAsset])).toEqual([['OE1', 'ZUSD']]);
    });
  });

  it('reports a partial fill and the cancel of an entry cancelled while down, and protects what it filled', () => {
    marbles(({ cold, scheduler, flush }) => {
      const journal = newJournal();
      seed(journal, [[intentOf({ clientOrderId: 'e1', duties: { limitTimeoutMs: 10_000 } }), sent(0), accepted('OE1', 100)]]);
      const exchange = [snapshot({ txid: 'OE1', clientOrderId: 'e1', status: 'canceled', volumeExecuted: '0.25', price: '99', reason: 'User requested' })];
      const run = start(journal, exchangeOf(cold, scheduler, () => exchange), scheduler);
      flush();
      expect(statuses(run)).toEqual(['e1 PARTIALLY_FILLED', 'e1 CANCELED']);
      expect(run.reports[1]?.report.reason).toBe('User requested');
      expect(run.plans[0]?.toProtect.map((p) => [p.entry.clientOrderId, p.quantity.toFixed()])).toEqual([['e1', '0.25']]);
      expect(run.plans[0]?.toCancelAtTimeout).toEqual([]);
    });
  });

  it('adopts a placement whose lookup finds it only on a later look, before its deadline, without a REJECTED', () => {
    marbles(({ cold, scheduler, flush }) => {
      const journal = newJournal();
      seed(journal, [[intentOf({ clientOrderId: 'slow' }), sent(0, 30_000)]]);
      // The exchange shows the order from 2 500 on (the OpenOrders lag).
      const late = snapshot({ txid: 'OSLOW', clientOrderId: 'slow', status: 'open' });
      const port = exchangeOf(cold, scheduler, () => (scheduler.now() >= 2_500 ? [late] : []));
      const run = start(journal, port, scheduler);
      flush();
      expect(run.error()).toBeNull();
      const lookups = port.callsOf('openOrders').filter((call) => call.args !== undefined);
      expect(lookups.length).toBeGreaterThanOrEqual(2);
      expect(statuses(run)).toEqual(['slow NEW']);
      expect(run.reports[0]?.at).toBeGreaterThanOrEqual(2_500);
      expect(run.plans[0]?.followed.map((o) => o.txid)).toEqual(['OSLOW']);
      expect(ordersIn(journal).get('slow')?.state.txid).toBe('OSLOW');
    });
  });

  it('ends an intent that was never sent as REJECTED once a lookup past its possible deadline finds nothing', () => {
    marbles(({ cold, scheduler, flush }) => {
      const journal = newJournal();
      // Journaled at 0 with a 3 000 ms deadline, never sent: nothing can be live after 5 000 (deadline + lag).
      seed(journal, [[intentOf({ clientOrderId: 'never' })]]);
      const run = start(journal, exchangeOf(cold, scheduler, () => []), scheduler);
      flush();
      expect(statuses(run)).toEqual(['never REJECTED']);
      expect(run.reports[0]?.at).toBeGreaterThanOrEqual(5_000);
      expect(run.reports[0]?.report.reason).toMatch(/^not placed: never sent before the process stopped/);
      expect(ordersIn(journal).get('never')?.events.map((entry) => entry.event.kind)).toEqual(['rejected']);
    });
  });

  it('turns a stop proven never placed into an ERROR and plans to protect its entry again', () => {
    marbles(({ cold, scheduler, flush }) => {
      const journal = newJournal();
      const entry = intentOf({ clientOrderId: 'e1', orderType: 'market', price: null });
      const stop = intentOf({ clientOrderId: 's1', role: 'stop-loss', parentClientOrderId: 'e1', side: 'sell', orderType: 'stop-loss', price: new Decimal('90') });
      seed(journal, [
        [entry, sent(0), accepted('OE1', 10), fillOf('OE1', 'T1', '1', 20)],
        [stop, sent(40), ambiguous(100)],
      ]);
      const run = start(journal, exchangeOf(cold, scheduler, () => []), scheduler);
      flush();
      expect(statuses(run)).toEqual(['s1 ERROR']);
      expect(run.reports[0]?.report.reason).toMatch(/^position unprotected: not placed: proven absent/);
      expect(run.plans[0]?.toProtect.map((p) => [p.entry.clientOrderId, p.quantity.toFixed(), p.stopPrice.toFixed()])).toEqual([['e1', '1', '90']]);
    });
  });

  it('plans to cancel again what was being cancelled, and a stop whose sibling take-profit filled while down', () => {
    marbles(({ cold, scheduler, flush }) => {
      const journal = newJournal();
      const entry = intentOf({ clientOrderId: 'e1', orderType: 'market', price: null, duties: { takeProfit: new Decimal('120'), protectionMode: 'both-resting' } });
      const protective = (clientOrderId: string, orderType: 'stop-loss' | 'take-profit', price: string) =>
        intentOf({ clientOrderId, role: orderType, parentClientOrderId: 'e1', side: 'sell', orderType, price: new Decimal(price), duties: { stopLoss: null, protectionMode: null } });
      seed(journal, [
        [entry, sent(0), accepted('OE1', 10), fillOf('OE1', 'T1', '1', 20)],
        [protective('s1', 'stop-loss', '90'), sent(30), accepted('OS1', 40)],
        [protective('t1', 'take-profit', '120'), sent(30), accepted('OT1', 40)],
        [intentOf({ clientOrderId: 'w1' }), sent(0), accepted('OW1', 10), cancelSent('timeout', 50)],
      ]);
      const exchange = [
        snapshot({ txid: 'OS1', clientOrderId: 's1', status: 'open', side: 'sell', orderType: 'stop-loss' }),
        snapshot({ txid: 'OT1', clientOrderId: 't1', status: 'closed', side: 'sell', orderType: 'take-profit', volumeExecuted: '1', price: '120' }),
        snapshot({ txid: 'OW1', clientOrderId: 'w1', status: 'open' }),
      ];
      const run = start(journal, exchangeOf(cold, scheduler, () => exchange), scheduler);
      flush();
      expect(statuses(run)).toEqual(['t1 FILLED']);
      const plan = run.plans[0];
      expect(plan?.toCancel.map((c) => [c.order.clientOrderId, c.txid, c.reason])).toEqual([
        ['s1', 'OS1', 'position closed'],
        ['w1', 'OW1', 'timeout'],
      ]);
      expect(plan?.toProtect).toEqual([]);
      expect(plan?.takeProfitWatches).toEqual([]);
    });
  });

  it('does not cancel again a stop whose cancel a close withdrew when it gave up: it is resting protection again', () => {
    marbles(({ cold, scheduler, flush }) => {
      const journal = newJournal();
      const entry = intentOf({ clientOrderId: 'e1', orderType: 'market', price: null });
      const stop = intentOf({ clientOrderId: 's1', role: 'stop-loss', parentClientOrderId: 'e1', side: 'sell', orderType: 'stop-loss', price: new Decimal('90'), duties: { stopLoss: null, protectionMode: null } });
      const withdrawn: Seeded = { event: { kind: 'cancel-withdrawn', reason: 'close-position gave up' }, at: 70 };
      seed(journal, [
        [entry, sent(0), accepted('OE1', 10), fillOf('OE1', 'T1', '1', 20)],
        [stop, sent(30), accepted('OS1', 40), cancelSent('close-position', 50), withdrawn],
      ]);
      const exchange = [snapshot({ txid: 'OS1', clientOrderId: 's1', status: 'open', side: 'sell', orderType: 'stop-loss' })];
      const run = start(journal, exchangeOf(cold, scheduler, () => exchange), scheduler);
      flush();
      const plan = run.plans[0];
      expect(plan?.toCancel).toEqual([]);
      expect(plan?.restingStops.map((r) => [r.clientOrderId, r.txid])).toEqual([['s1', 'OS1']]);
      expect(plan?.toProtect).toEqual([]);
    });
  });

  it('counts a close journaled with no parent against the pair\'s entries, oldest first', () => {
    marbles(({ cold, scheduler, flush }) => {
      const journal = newJournal();
      const entry = (clientOrderId: string) => intentOf({ clientOrderId, orderType: 'market', price: null });
      seed(journal, [
        [entry('e1'), sent(0), accepted('O1', 10), fillOf('O1', 'T1', '1', 20)],
        [entry('e2'), sent(0), accepted('O2', 10), fillOf('O2', 'T2', '1', 20)],
        [
          intentOf({ clientOrderId: 'c1', role: 'close', side: 'sell', orderType: 'market', price: null, volume: new Decimal('1.5'), duties: { stopLoss: null, protectionMode: null } }),
          sent(30),
          accepted('OC', 40),
          fillOf('OC', 'T3', '1.5', 50),
        ],
      ]);
      const run = start(journal, exchangeOf(cold, scheduler, () => []), scheduler);
      flush();
      expect(run.reports).toEqual([]);
      expect(run.plans[0]?.toProtect.map((p) => [p.entry.clientOrderId, p.quantity.toFixed()])).toEqual([['e2', '0.5']]);
    });
  });

  it('reports each change once across a restart over the SQLite file: the second start reports nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'krx-reconcile-'));
    const path = join(dir, 'journal.db');
    try {
      marbles(({ cold, scheduler, flush }) => {
        const first = openSqliteJournal({ path, account: 'acct-1' });
        seed(first, [
          [intentOf({ clientOrderId: 'filled' }), sent(0), accepted('OF', 10)],
          [intentOf({ clientOrderId: 'partial' }), sent(0), accepted('OP', 10)],
          [intentOf({ clientOrderId: 'amb' }), sent(0), ambiguous(20)],
          [intentOf({ clientOrderId: 'lost' }), sent(0), ambiguous(20)],
        ]);
        const exchange = [
          snapshot({ txid: 'OF', clientOrderId: 'filled', status: 'closed', volumeExecuted: '1', price: '100' }),
          snapshot({ txid: 'OP', clientOrderId: 'partial', status: 'open', volumeExecuted: '0.5', price: '100' }),
          snapshot({ txid: 'OA', clientOrderId: 'amb', status: 'open' }),
        ];
        const port = exchangeOf(cold, scheduler, () => exchange);
        const before = start(first, port, scheduler);
        flush();
        expect(before.error()).toBeNull();
        expect(statuses(before).sort()).toEqual(['amb NEW', 'filled FILLED', 'lost REJECTED', 'partial PARTIALLY_FILLED']);
        first.close().subscribe();

        const reopened = openSqliteJournal({ path, account: 'acct-1' });
        const after = start(reopened, port, scheduler, 60_000);
        flush();
        expect(after.error()).toBeNull();
        expect(after.reports).toEqual([]);
        expect(after.plans[0]?.followed.map((o) => o.txid).sort()).toEqual(['OA', 'OP']);
        expect(after.plans[0]?.toProtect.map((p) => p.entry.clientOrderId)).toEqual(['filled']);
        reopened.close().subscribe();
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ends its lookups when unsubscribed: no call after the unsubscription', () => {
    marbles(({ cold, scheduler, flush }) => {
      const journal = newJournal();
      seed(journal, [[intentOf({ clientOrderId: 'lost' }), sent(0, 60_000)]]);
      const port = exchangeOf(cold, scheduler, () => []);
      const subscription = reconcile(journal, exchangeDeps(port, scheduler), { pairs: book }).subscribe();
      scheduler.schedule(() => subscription.unsubscribe(), 3_500);
      flush();
      expect(subscription.closed).toBe(true);
      expect(port.calls.length).toBeGreaterThan(1);
      expect(port.calls.every((call) => call.at <= 3_500)).toBe(true);
      expect(ordersIn(journal).get('lost')?.state.status).toBe('sent');
    });
  });

  describe('stops the start with a ReconcileError instead of guessing', () => {
    const failing = (exchange: OrderSnapshot[], kind: string, message: RegExp): void => {
      marbles(({ cold, scheduler, flush }) => {
        const journal = newJournal();
        seed(journal, [[intentOf({ clientOrderId: 'e1' }), sent(0), accepted('OE1', 100)]]);
        const run = start(journal, exchangeOf(cold, scheduler, () => exchange), scheduler);
        flush();
        const error = run.error();
        expect(error).toBeInstanceOf(ReconcileError);
        expect(error instanceof ReconcileError ? [error.kind, error.clientOrderId] : null).toEqual([kind, 'e1']);
        expect(error instanceof Error ? error.message : '').toMatch(message);
        expect(run.plans).toEqual([]);
        expect(ordersIn(journal).get('e1')?.state.status).toBe('accepted');
      });
    };

    it('a fill larger than the order', () =>
      failing([snapshot({ txid: 'OE1', clientOrderId: 'e1', status: 'closed', volume: '2', volumeExecuted: '2', price: '100' })], 'fill-exceeds-order', /executed 2, more than the 1 journaled/));

    it('the exchange showing another side for the journaled order', () =>
      failing([snapshot({ txid: 'OE1', clientOrderId: 'e1', status: 'open', side: 'sell' })], 'mismatch', /journaled as a buy, the exchange's OE1 is a sell/));

    it('the exchange showing another pair for the journaled order', () =>
      failing([{ ...snapshot({ txid: 'OE1', clientOrderId: 'e1', status: 'open' }), pair: 'ETHUSD' }], 'mismatch', /journaled for pair XXBTZUSD, the exchange's OE1 is on ETHUSD/));

    it('an order the journal ended, open on the exchange', () => {
      marbles(({ cold, scheduler, flush }) => {
        const journal = newJournal();
        seed(journal, [[intentOf({ clientOrderId: 'e1' }), { event: { kind: 'rejected', reason: 'EOrder:Insufficient funds' }, at: 0 }]]);
        const run = start(journal, exchangeOf(cold, scheduler, () => [snapshot({ txid: 'OE1', clientOrderId: 'e1', status: 'open' })]), scheduler);
        flush();
        const error = run.error();
        expect(error instanceof ReconcileError ? error.kind : error).toBe('ended-but-open');
        expect(error instanceof Error ? error.message : '').toMatch(/order e1: journaled as rejected, the exchange shows OE1 open/);
      });
    });

    it('a journaled txid the exchange does not know', () => failing([], 'unknown-to-exchange', /journal from another account/));
  });
});

/** `exchangeOf` with Kraken's paging of ClosedOrders since a time: 50 a page, `count` all that match. */
class PagingPort extends FakePort {
  constructor(
    private readonly closed: () => readonly OrderSnapshot[],
    private readonly cold: Cold,
    script: PortScript,
    private readonly clock: TestScheduler,
  ) {
    super(script, clock);
  }

  closedOrdersSince(startMs: number, offset: number): Observable<{ readonly orders: ReadonlyMap<string, OrderSnapshot>; readonly count: number }> {
    this.calls.push({ method: 'closedOrdersSince', at: this.clock.now(), args: { startMs, offset } });
    const all = this.closed();
    return this.cold('10ms (a|)', { a: { orders: ordersOf(...all.slice(offset, offset + 50)), count: all.length } });
  }
}

describe('reconcile: never-answered orders settled from one ClosedOrders listing', () => {
  /** Entries created from 5 000 every 10 ms, each sent (deadline + 3 000), ambiguous or only intended. */
  const burst = (n: number): Array<readonly [ReturnType<typeof intentOf>, ...Seeded[]]> =>
    Array.from({ length: n }, (_, i) => {
      const at = 5_000 + i * 10;
      const intent = intentOf({ clientOrderId: `b${i}`, createdAt: at });
      if (i % 4 === 0) return [intent] as const;
      if (i % 4 === 1) return [intent, sent(at), ambiguous(at + 100)] as const;
      return [intent, sent(at)] as const;
    });
  /** What the exchange holds of the burst: every third filled and closed, every fifth still open, the rest never placed; 45 strangers closed. */
  const exchangeOfBurst = (n: number): OrderSnapshot[] => [
    ...Array.from({ length: n }, (_, i) => i)
      .filter((i) => i % 3 === 0 || i % 5 === 0)
      .map((i) =>
        i % 3 === 0
          ? snapshot({ txid: `O${i}`, clientOrderId: `b${i}`, status: 'closed', volumeExecuted: '1', price: '100' })
          : snapshot({ txid: `O${i}`, clientOrderId: `b${i}`, status: 'open' }),
      ),
    ...Array.from({ length: 45 }, (_, i) => snapshot({ txid: `S${i}`, clientOrderId: `stranger-${i}`, status: 'canceled' })),
  ];
  const pagingExchangeOf = (cold: Cold, scheduler: TestScheduler, orders: () => readonly OrderSnapshot[]): PagingPort => {
    const plain = exchangeOf(cold, scheduler, orders);
    const closed = (): OrderSnapshot[] => orders().filter((order) => order.status !== 'open' && order.status !== 'pending');
    return new PagingPort(
      closed,
      cold,
      {
        openOrders: (filter) => plain.openOrders(filter),
        closedOrders: (filter) => plain.closedOrders(filter),
        queryOrders: (txids) => plain.queryOrders(txids),
      },
      scheduler,
    );
  };
  const outcome = (journal: Journal, run: Run) => ({
    reports: run.reports.map(({ report }) => `${report.clientOrderId} ${report.status} ${report.exchangeOrderId ?? '-'} ${report.reason ?? ''}`).sort(),
    journal: [...ordersIn(journal).values()].map((order) => [order.intent.clientOrderId, order.state.status, order.state.txid, ...order.events.map((e) => e.event.kind)]),
    toProtect: run.plans[0]?.toProtect.map((p) => `${p.entry.clientOrderId} ${p.quantity.toFixed()}`),
    followed: run.plans[0]?.followed.map((f) => `${f.context.clientOrderId} ${f.txid}`),
    unsettled: run.plans[0]?.unsettled,
  });

  it('settles 60 never-answered orders past their deadline with 1 OpenOrders and 2 ClosedOrders pages, as 60 lookups would', () => {
    marbles(({ cold, scheduler, flush }) => {
      const exchange = exchangeOfBurst(60);
      const paged = newJournal();
      const looked = newJournal();
      seed(paged, burst(60));
      seed(looked, burst(60));
      const pagingPort = pagingExchangeOf(cold, scheduler, () => exchange);
      const lookupPort = exchangeOf(cold, scheduler, () => exchange);
      // At 20 000 every deadline (≤ 8 590) plus the lag (2 000) is past.
      const run = start(paged, pagingPort, scheduler, 20_000);
      const today = start(looked, lookupPort, scheduler, 20_000);
      flush();
      expect([run.error(), today.error()]).toEqual([null, null]);
      expect([run.completed(), today.completed()]).toEqual([true, true]);
      // 20 closed of ours + 45 strangers' = 65 closed since 4 000: two pages.
      expect(pagingPort.calls.map((call) => [call.method, call.args])).toEqual([
        ['openOrders', undefined],
        ['closedOrdersSince', { startMs: 4_000, offset: 0 }],
        ['closedOrdersSince', { startMs: 4_000, offset: 50 }],
      ]);
      // Without the paging, the 60 - 8 open ones are looked up one by one: OpenOrders and ClosedOrders each.
      expect(lookupPort.callsOf('closedOrders')).toHaveLength(52);
      expect(outcome(paged, run)).toEqual(outcome(looked, today));
      const reports = outcome(paged, run).reports;
      expect(reports.filter((line) => line.includes(' FILLED '))).toHaveLength(20);
      expect(reports.filter((line) => line.includes(' REJECTED '))).toHaveLength(32);
      expect(reports.filter((line) => line.startsWith('b0 '))).toEqual([
        'b0 FILLED O0 ',
        'b0 NEW O0 found by its client order id after an ambiguous placement',
        'b0 PENDING_NEW - ',
      ]);
      expect(ordersIn(paged).get('b1')?.events.map((e) => e.event.kind)).toEqual(['sent', 'ambiguous', 'proven-absent', 'rejected']);
      expect(ordersIn(paged).get('b4')?.events.map((e) => e.event.kind)).toEqual(['rejected']);
      expect(run.plans[0]?.followed).toHaveLength(8);
    });
  });

  it('looks up by client order id only the order not yet past its deadline; the listing adopts one that is', () => {
    marbles(({ cold, scheduler, flush }) => {
      const journal = newJournal();
      seed(journal, [
        [intentOf({ clientOrderId: 'old-lost', createdAt: 1_000 }), sent(1_000)],
        [intentOf({ clientOrderId: 'late-filled', createdAt: 19_000 }), sent(19_000)],
        // Sent at 19 500, deadline 22 500: not provably absent before 24 500.
        [intentOf({ clientOrderId: 'late-lost', createdAt: 19_500 }), sent(19_500)],
      ]);
      const exchange = [snapshot({ txid: 'OL', clientOrderId: 'late-filled', status: 'closed', volumeExecuted: '1', price: '100' })];
      const port = pagingExchangeOf(cold, scheduler, () => exchange);
      const run = start(journal, port, scheduler, 20_000);
      flush();
      expect(run.error()).toBeNull();
      expect(port.callsOf('closedOrdersSince').map((call) => call.args)).toEqual([{ startMs: 0, offset: 0 }]);
      const lookups = [...port.callsOf('openOrders'), ...port.callsOf('closedOrders')].filter((call) => call.args !== undefined);
      expect(new Set(lookups.map((call) => JSON.stringify(call.args)))).toEqual(new Set([JSON.stringify({ clientOrderId: 'late-lost' })]));
      expect(statuses(run)).toEqual(['old-lost REJECTED', 'late-filled NEW', 'late-filled FILLED', 'late-lost REJECTED']);
      expect(run.reports[3]?.at).toBeGreaterThanOrEqual(24_500);
      expect(run.reports[0]?.at).toBeLessThan(20_100);
    });
  });

  it('falls back to the lookups when the listing fails, and never rejects what it did not prove', () => {
    marbles(({ cold, scheduler, flush }) => {
      const journal = newJournal();
      seed(journal, [[intentOf({ clientOrderId: 'filled', createdAt: 1_000 }), sent(1_000)]]);
      const exchange = [snapshot({ txid: 'OF', clientOrderId: 'filled', status: 'closed', volumeExecuted: '1', price: '100' })];
      const plain = exchangeOf(cold, scheduler, () => exchange);
      const port = new PagingPort(() => exchange, cold, { openOrders: (f) => plain.openOrders(f), closedOrders: (f) => plain.closedOrders(f) }, scheduler);
      port.closedOrdersSince = () => cold('10ms #', undefined, exchangeError('retryable', 'EService:Unavailable', 'ClosedOrders'));
      const run = start(journal, port, scheduler, 20_000);
      flush();
      expect(run.error()).toBeNull();
      expect(port.callsOf('closedOrders').map((call) => call.args)).toEqual([{ clientOrderId: 'filled' }]);
      expect(statuses(run)).toEqual(['filled NEW', 'filled FILLED']);
    });
  });

  it('stops after the first page when walking the listing would cost more calls than the lookups it saves', () => {
    marbles(({ cold, scheduler, flush }) => {
      const journal = newJournal();
      seed(journal, [[intentOf({ clientOrderId: 'lost', createdAt: 1_000 }), sent(1_000)]]);
      // 150 closed orders since: 3 pages, more than the 2 calls of one lookup.
      const exchange = Array.from({ length: 150 }, (_, i) => snapshot({ txid: `S${i}`, clientOrderId: `stranger-${i}`, status: 'closed' }));
      const port = pagingExchangeOf(cold, scheduler, () => exchange);
      const run = start(journal, port, scheduler, 20_000);
      flush();
      expect(run.error()).toBeNull();
      expect(port.callsOf('closedOrdersSince')).toHaveLength(1);
      expect(port.callsOf('closedOrders').map((call) => call.args)).toEqual([{ clientOrderId: 'lost' }]);
      expect(statuses(run)).toEqual(['lost REJECTED']);
    });
  });
});
