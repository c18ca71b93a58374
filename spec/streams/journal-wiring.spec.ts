import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Decimal } from 'decimal.js';
import { type Observable, defer, delay, firstValueFrom, map, throwError } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { createMemoryJournalStore, openMemoryJournal } from '../../src/journal/memory';
import { openSqliteJournal } from '../../src/journal/sqlite';
import { type Journal, JournalError, type JournaledOrder, type OrderIntentRecord, type SignalRecord } from '../../src/model/journal';
import { type LifecycleEvent } from '../../src/model/order-state';
import { type ExecutionReport } from '../../src/model/report';
import { type TradeSignal } from '../../src/model/signal';
import { serialJournal } from '../../src/streams/journaling';
import { type TestHandler, createTestHandler } from '../../src/testing';
import { type VirtualExchange } from '../../src/testing/virtual-exchange';

const ACCOUNT = 'acct-fingerprint';

const marketBuy = (signalId: string, quantity = '0.01'): TradeSignal => ({
  signalId,
  pair: 'BTC/USD',
  side: 'buy',
  orderType: 'market',
  quantity,
  stopLoss: '58000',
});

/** One journal write as the handler makes it, seen by a wrapper before it reaches the store. */
type Write =
  | { readonly kind: 'signal'; readonly signal: SignalRecord }
  | { readonly kind: 'intent'; readonly intent: OrderIntentRecord }
  | { readonly kind: 'transition'; readonly clientOrderId: string; readonly event: LifecycleEvent };

/** The journal, with `onWrite` told of every write first; a JournalError it returns is the write's answer instead. */
function watchedJournal(inner: Journal, onWrite: (write: Write) => JournalError | null): Journal {
  const guard = <T>(write: Write, call: () => Observable<T>): Observable<T> =>
    defer(() => {
      const failure = onWrite(write);
      return failure ? throwError(() => failure) : call();
    });
  return {
    ...inner,
    recordSignal: (signal) => guard({ kind: 'signal', signal }, () => inner.recordSignal(signal)),
    recordIntent: (intent) => guard({ kind: 'intent', intent }, () => inner.recordIntent(intent)),
    recordTransition: (clientOrderId, event, at) => guard({ kind: 'transition', clientOrderId, event }, () => inner.recordTransition(clientOrderId, event, at)),
  };
}

const diskFull = (): JournalError => new JournalError('storage', 'journal recordIntent failed: database or disk is full');

interface Run {
  readonly kit: TestHandler;
  readonly scheduler: TestScheduler;
  readonly reports: ExecutionReport[];
  readonly failures: unknown[];
  /** What the handler logged at error level (an invalid transition, a journal that failed). */
  readonly errors: string[];
  readonly completed: () => boolean;
}

/**
 * One handler run in virtual time against the paper engine: `signals` pushed at their frames, stopped at `stopAt`.
 * `journalFor` builds the journal once the kit exists (so a wrapper can look at the exchange).
 */
function run(
  seed: number,
  signals: readonly (readonly [number, TradeSignal])[],
  journalFor: (inspect: () => TestHandler) => Journal,
  stopAt = 20_000,
  more: (kit: TestHandler, at: (frame: number, work: () => void) => void) => void = () => undefined,
  before?: Run,
): Run {
  // After `before`: its scheduler (time goes on) and its exchange (a restart on the same account).
  const scheduler = before?.scheduler ?? new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  const exchange: VirtualExchange | undefined = before?.kit.exchange;
  const reports: ExecutionReport[] = [];
  const failures: unknown[] = [];
  const errors: string[] = [];
  const log = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: (...args: unknown[]) => void errors.push(args.map(String).join(' ')) };
  let completed = false;
  let kit: TestHandler | null = null;
  const self = (): TestHandler => {
    if (!kit) throw new Error('kit not built yet');
    return kit;
  };
  scheduler.run(({ flush }) => {
    const journal = journalFor(self);
    // As a run that left its counters empty would have: with none journaled the start assumes full ones, and
    // waits seconds before its first call (restart.spec.ts checks that).
    journal.recordRateCounters({ at: scheduler.now(), rest: 0, trading: [] }).subscribe({ error: (e: unknown) => failures.push(e) });
    kit = createTestHandler({ scheduler, seed, pairs: ['BTC/USD'], prices: { 'BTC/USD': '60000' }, journal, log, ...(exchange ? { exchange } : {}) });
    const built = kit;
    built.reports$.subscribe({ next: (r) => reports.push(r), error: (e: unknown) => failures.push(e), complete: () => (completed = true) });
    for (const [frame, signal] of signals) scheduler.schedule(() => built.signals.next(signal), frame);
    more(built, (frame, work) => scheduler.schedule(work, frame));
    built.stopAt(scheduler.now() + stopAt);
    flush();
  });
  return { kit: self(), scheduler, reports, failures, errors, completed: () => completed };
}

const ofSignal = (reports: readonly ExecutionReport[], signalId: string, role = 'entry'): ExecutionReport[] =>
  reports.filter((r) => r.signalId === signalId && r.role === role);
const statuses = (reports: readonly ExecutionReport[]): string[] => reports.map((r) => r.status);
const addOrders = (kit: TestHandler): number => kit.inspect.requestCount('AddOrder');

const ordersOf = (journal: Journal): Promise<readonly JournaledOrder[]> => firstValueFrom(journal.orders());

describe('journal wiring: a signalId is an idempotency key', () => {
  it('rejects a second signal with a journaled signalId within one run, naming the first; nothing is sent for it', () => {
    const { kit, reports, failures, errors, completed } = run(
      1,
      [
        [1, marketBuy('s1')],
        [3_000, marketBuy('s1', '0.02')],
      ],
      () => openMemoryJournal({ account: ACCOUNT }),
    );
    expect(failures).toEqual([]);
    expect(errors).toEqual([]);
    expect(completed()).toBe(true);
    const entry = ofSignal(reports, 's1');
    expect(statuses(entry)).toEqual(['PENDING_NEW', 'NEW', 'FILLED', 'REJECTED']);
    expect(entry[3]?.reason).toMatch(/^signalId: duplicate signalId: already journaled \(seq \d+\)$/);
    expect(entry[3]?.clientOrderId).toBeNull();
    // The entry and its stop: nothing for the duplicate.
    expect(addOrders(kit)).toBe(2);
  });

  it('rejects it across two runs on one in-memory store: the second run sends nothing', async () => {
    const store = createMemoryJournalStore();
    const first = openMemoryJournal({ account: ACCOUNT, store });
    const one = run(1, [[1, marketBuy('s1')]], () => first);
    expect(statuses(ofSignal(one.reports, 's1'))).toEqual(['PENDING_NEW', 'NEW', 'FILLED']);
    await firstValueFrom(first.close());

    const second = openMemoryJournal({ account: ACCOUNT, store });
    // The same account: a restart reconciles the journal with the exchange it was written against.
    const two = run(2, [[1, marketBuy('s1')], [100, marketBuy('s2')]], () => second, 20_000, undefined, one);
    expect(two.failures).toEqual([]);
    expect(ofSignal(two.reports, 's1').map((r) => `${r.status} ${r.reason ?? ''}`)).toEqual([expect.stringMatching(/^REJECTED signalId: duplicate signalId: already journaled \(seq \d+\)$/)]);
    // The run goes on: a new signal is placed as usual.
    expect(statuses(ofSignal(two.reports, 's2'))).toEqual(['PENDING_NEW', 'NEW', 'FILLED']);
    expect(two.kit.inspect.orders().filter((o) => o.orderType === 'market')).toHaveLength(2);
  });

  describe('on one SQLite file', () => {
    let dir = '';
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('rejects it after the file is closed and opened again', async () => {
      dir = mkdtempSync(join(tmpdir(), 'krx-wiring-'));
      const path = join(dir, 'journal.db');
      const first = openSqliteJournal({ path, account: ACCOUNT, synchronous: 'normal' });
      const one = run(1, [[1, marketBuy('s1')]], () => first);
      expect(statuses(ofSignal(one.reports, 's1'))).toEqual(['PENDING_NEW', 'NEW', 'FILLED']);
      await firstValueFrom(first.close());

      const second = openSqliteJournal({ path, account: ACCOUNT, synchronous: 'normal' });
      const sentBefore = addOrders(one.kit);
      const two = run(2, [[1, marketBuy('s1')]], () => second, 20_000, undefined, one);
      expect(ofSignal(two.reports, 's1').map((r) => `${r.status} ${r.reason ?? ''}`)).toEqual([expect.stringMatching(/^REJECTED signalId: duplicate signalId: already journaled \(seq \d+\)$/)]);
      expect(addOrders(two.kit) - sentBefore).toBe(0);
      // What the first run journaled is all there: the entry filled, its stop resting.
      const orders = await ordersOf(second);
      expect(orders.map((o) => `${o.intent.role} ${o.state.status}`)).toEqual(['entry filled', 'stop-loss accepted']);
      await firstValueFrom(second.close());
    });
  });

  it('journals nothing for a signal refused by validation: the same signalId, corrected, is then placed', () => {
    const journal = openMemoryJournal({ account: ACCOUNT });
    const { reports } = run(
      1,
      [
        [1, { ...marketBuy('s1'), quantity: '-1' }],
        [100, marketBuy('s1')],
      ],
      () => journal,
    );
    expect(statuses(ofSignal(reports, 's1'))).toEqual(['REJECTED', 'PENDING_NEW', 'NEW', 'FILLED']);
  });
});

describe('journal wiring: write-ahead', () => {
  it('journals the intent and the send before the exchange receives the AddOrder, and the acceptance after', () => {
    const trace: string[] = [];
    run(
      1,
      [[1, marketBuy('s1')]],
      (kit) =>
        watchedJournal(openMemoryJournal({ account: ACCOUNT }), (write) => {
          const seen = addOrders(kit());
          const what = write.kind === 'transition' ? write.event.kind : write.kind === 'intent' ? `intent ${write.intent.role}` : 'signal';
          trace.push(`${what} @${seen}`);
          return null;
        }),
      5_000,
    );
    // @n: AddOrder requests the exchange had received when the write was made.
    expect(trace.slice(0, 7)).toEqual([
      'signal @0',
      'intent entry @0',
      'sent @0',
      'accepted @1',
      'fill @1',
      'final @1',
      'intent stop-loss @1',
    ]);
    expect(trace.slice(7, 9)).toEqual(['sent @1', 'accepted @2']);
  });

  it('after a run, the journal folds to what was reported: the entry filled with its volume, its stop resting with the entry as parent', async () => {
    const journal = openMemoryJournal({ account: ACCOUNT });
    const { reports, errors } = run(1, [[1, marketBuy('s1', '0.02')]], () => journal, 5_000);
    expect(errors).toEqual([]);
    const entryFilled = ofSignal(reports, 's1').find((r) => r.status === 'FILLED');
    const stopNew = ofSignal(reports, 's1', 'stop-loss').find((r) => r.status === 'NEW');
    const [entry, stop, ...rest] = await ordersOf(journal);
    expect(rest).toEqual([]);
    expect(entry?.intent.clientOrderId).toBe(entryFilled?.clientOrderId);
    expect([entry?.state.status, entry?.state.filled.toFixed(), entry?.state.txid]).toEqual(['filled', entryFilled?.quantityFilled.toFixed(), entryFilled?.exchangeOrderId]);
    expect(entry?.state.filled.toFixed()).toBe('0.02');
    expect(entry?.intent.duties).toEqual({ stopLoss: expect.anything(), takeProfit: null, limitTimeoutMs: null, protectionMode: 'stop-resting' });
    expect(entry?.intent.duties.stopLoss?.toFixed()).toBe('58000');
    expect(entry?.intent.parentClientOrderId).toBeNull();
    expect(stop?.intent.clientOrderId).toBe(stopNew?.clientOrderId);
    expect([stop?.intent.role, stop?.intent.parentClientOrderId, stop?.intent.volume.toFixed(), stop?.intent.price?.toFixed()]).toEqual([
      'stop-loss',
      entry?.intent.clientOrderId,
      '0.02',
      '58000',
    ]);
    expect([stop?.state.status, stop?.state.txid]).toEqual(['accepted', stopNew?.exchangeOrderId]);
    const unresolved = await firstValueFrom(journal.unresolvedOrders());
    expect(unresolved.map((o) => o.intent.role)).toEqual(['stop-loss']);
  });

  it('journals the take-profit path: the stop cancelled for it, and the market exit with the entry as its parent', async () => {
    const journal = openMemoryJournal({ account: ACCOUNT });
    const { reports, errors } = run(1, [[1, { ...marketBuy('tp'), takeProfit: '61000' }]], () => journal, 15_000, (kit) => kit.exchange.setPriceAt(5_000, 'BTC/USD', '62000'));
    expect(errors).toEqual([]);
    expect(statuses(ofSignal(reports, 'tp', 'take-profit'))).toEqual(['PENDING_NEW', 'NEW', 'FILLED']);
    const [entry, stop, exit, ...rest] = await ordersOf(journal);
    expect(rest).toEqual([]);
    expect(entry?.intent.duties.takeProfit?.toFixed()).toBe('61000');
    expect([stop?.intent.role, stop?.events.map((e) => e.event.kind), stop?.state.status, stop?.state.cancelReason]).toEqual([
      'stop-loss',
      ['sent', 'accepted', 'cancel-sent', 'final'],
      'canceled',
      'take-profit',
    ]);
    expect([exit?.intent.role, exit?.intent.parentClientOrderId, exit?.state.status, exit?.state.filled.toFixed()]).toEqual([
      'take-profit',
      entry?.intent.clientOrderId,
      'filled',
      '0.01',
    ]);
  });

  it('journals a limit entry cancelled at its timeout: the cancel sent, then the final state', async () => {
    const journal = openMemoryJournal({ account: ACCOUNT });
    const limitBuy: TradeSignal = { signalId: 'l1', pair: 'BTC/USD', side: 'buy', orderType: 'limit', quantity: '0.01', limitPrice: '50000', timeoutMs: 3_000 };
    const { reports, errors } = run(1, [[1, limitBuy]], () => journal, 10_000);
    expect(errors).toEqual([]);
    expect(statuses(ofSignal(reports, 'l1'))).toEqual(['PENDING_NEW', 'NEW', 'PENDING_CANCEL', 'CANCELED']);
    const [entry] = await ordersOf(journal);
    expect(entry?.events.map((e) => e.event.kind)).toEqual(['sent', 'accepted', 'cancel-sent', 'final']);
    expect([entry?.state.status, entry?.state.cancelReason, entry?.intent.duties.limitTimeoutMs]).toEqual(['canceled', 'timeout', 3_000]);
  });
});

describe('journal wiring: ambiguous placements', () => {
  it('journals what the lookup settles: found after a lost answer; proven absent, then sent again, after a refused one', async () => {
    const journal = openMemoryJournal({ account: ACCOUNT });
    const { reports, errors } = run(
      1,
      [
        [1, marketBuy('found')],
        [30_000, marketBuy('absent')],
      ],
      () => journal,
      60_000,
      (kit, at) => {
        at(0, () => kit.exchange.faults.inject('AddOrder', 'accept-then-timeout', 1));
        at(29_999, () => kit.exchange.faults.inject('AddOrder', 'html-5xx-not-placed', 1));
      },
    );
    expect(errors).toEqual([]);
    expect(statuses(ofSignal(reports, 'found'))).toEqual(['PENDING_NEW', 'UNKNOWN', 'NEW', 'FILLED']);
    expect(statuses(ofSignal(reports, 'absent'))).toEqual(['PENDING_NEW', 'UNKNOWN', 'NEW', 'FILLED']);
    const entries = (await ordersOf(journal)).filter((o) => o.intent.role === 'entry');
    // No `final` after the fill that completed the order: the machine answers the repeat `ignored`, and only moves are written.
    expect(entries.map((o) => [o.intent.signalId, o.events.map((e) => e.event.kind), o.state.status, o.state.attempts])).toEqual([
      ['found', ['sent', 'ambiguous', 'found', 'fill'], 'filled', 1],
      ['absent', ['sent', 'ambiguous', 'proven-absent', 'sent', 'accepted', 'fill'], 'filled', 2],
    ]);
  });
});

describe('journal wiring: a journal that cannot write does not trade', () => {
  it('every write failing: each signal is REJECTED naming the journal, nothing is sent, and the run goes on to its stop', () => {
    const { kit, reports, failures, completed } = run(
      1,
      [
        [1, marketBuy('s1')],
        [500, marketBuy('s2')],
      ],
      () => watchedJournal(openMemoryJournal({ account: ACCOUNT }), () => diskFull()),
      5_000,
    );
    expect(failures).toEqual([]);
    expect(completed()).toBe(true);
    for (const id of ['s1', 's2']) {
      expect(ofSignal(reports, id).map((r) => `${r.status} ${r.reason ?? ''}`)).toEqual([
        'REJECTED journal: journal recordIntent failed: database or disk is full; not sent',
      ]);
    }
    expect(addOrders(kit)).toBe(0);
  });

  it('the send not journaled: the entry is REJECTED and no AddOrder leaves; the breaker stays closed for the next', () => {
    let failSends = true;
    const { kit, reports } = run(
      1,
      [
        [1, marketBuy('s1')],
        [500, marketBuy('s2')],
      ],
      () =>
        watchedJournal(openMemoryJournal({ account: ACCOUNT }), (write) => {
          if (write.kind !== 'transition' || write.event.kind !== 'sent' || !failSends) return null;
          failSends = false;
          return diskFull();
        }),
      5_000,
    );
    const s1 = ofSignal(reports, 's1');
    expect(s1.map((r) => `${r.status} ${r.reason ?? ''}`)).toEqual([
      'PENDING_NEW ',
      'REJECTED journal: journal recordIntent failed: database or disk is full; not sent',
    ]);
    expect(kit.inspect.orders().map((o) => o.clOrdId)).not.toContain(s1[0]?.clientOrderId);
    expect(statuses(ofSignal(reports, 's2'))).toEqual(['PENDING_NEW', 'NEW', 'FILLED']);
  });

  it("a stop the journal cannot take: ERROR 'position unprotected: journal: …', nothing sent for it, and a later signal is placed", () => {
    let refuseStops = true;
    const { kit, reports, failures } = run(
      1,
      [
        [1, marketBuy('s1')],
        [4_000, marketBuy('s2')],
      ],
      () =>
        watchedJournal(openMemoryJournal({ account: ACCOUNT }), (write) =>
          write.kind === 'intent' && write.intent.role === 'stop-loss' && refuseStops ? ((refuseStops = false), diskFull()) : null,
        ),
      8_000,
    );
    expect(failures).toEqual([]);
    expect(statuses(ofSignal(reports, 's1'))).toEqual(['PENDING_NEW', 'NEW', 'FILLED']);
    expect(ofSignal(reports, 's1', 'stop-loss').map((r) => `${r.status} ${r.reason ?? ''}`)).toEqual([
      'ERROR position unprotected: journal: journal recordIntent failed: database or disk is full; not sent',
    ]);
    expect(statuses(ofSignal(reports, 's2', 'stop-loss'))).toEqual(['PENDING_NEW', 'NEW']);
    // s1's entry, s2's entry and s2's stop; none for s1's stop.
    expect(kit.inspect.orders().map((o) => o.orderType)).toEqual(['market', 'market', 'stop-loss']);
  });
});

describe('journal wiring: an invalid transition is a bug, not a reason to drop the order', () => {
  it('logs the refusal at error level and follows the order as before: filled, then protected', () => {
    const inner = openMemoryJournal({ account: ACCOUNT });
    const journal: Journal = {
      ...inner,
      recordTransition: (clientOrderId, event, at) =>
        event.kind === 'accepted'
          ? inner.order(clientOrderId).pipe(
              map((order) => {
                if (!order) throw new Error(`no order ${clientOrderId}`);
                return { kind: 'invalid' as const, state: order.state, event, reason: 'the handler and the machine disagree' };
              }),
            )
          : inner.recordTransition(clientOrderId, event, at),
    };
    const { reports, errors } = run(1, [[1, marketBuy('s1')]], () => journal, 5_000);
    expect(statuses(ofSignal(reports, 's1'))).toEqual(['PENDING_NEW', 'NEW', 'FILLED']);
    expect(statuses(ofSignal(reports, 's1', 'stop-loss'))).toEqual(['PENDING_NEW', 'NEW']);
    expect(errors.filter((e) => e.includes('journal refused accepted as an invalid transition (a bug): the handler and the machine disagree'))).toHaveLength(2);
  });
});

describe('journal wiring: close commands and HALT', () => {
  it('journals a close command before acting on it; the same commandId again is REJECTED naming the first, and nothing is sent', async () => {
    const journal = openMemoryJournal({ account: ACCOUNT });
    const { kit, reports, errors } = run(1, [[1, marketBuy('s1')]], () => journal, 12_000, (handler, at) => {
      at(4_000, () => handler.commands.next({ commandId: 'c1', pair: 'BTC/USD' }));
      at(8_000, () => handler.commands.next({ commandId: 'c1', pair: 'BTC/USD' }));
    });
    expect(errors).toEqual([]);
    const close = reports.filter((r) => r.signalId === 'c1');
    expect(statuses(close)).toEqual(['PENDING_NEW', 'NEW', 'FILLED', 'REJECTED']);
    expect(close[3]?.reason).toMatch(/^commandId: duplicate commandId: already journaled \(seq \d+\); nothing sent$/);
    const [command, ...others] = await firstValueFrom(journal.closeCommands());
    expect(others).toEqual([]);
    expect([command?.commandId, command?.pair, command?.quantity, `(seq ${command?.seq ?? ''})`]).toEqual(['c1', 'XXBTZUSD', null, close[3]?.reason?.match(/\(seq \d+\)/)?.[0]]);
    // The entry, its stop, the close: one market sell, not two.
    expect(kit.inspect.orders().map((o) => `${o.side} ${o.orderType}`)).toEqual(['buy market', 'sell stop-loss', 'sell market']);
    // The close's order is journaled under the command, with no parent.
    const closeOrder = (await ordersOf(journal)).find((o) => o.intent.role === 'close');
    expect([closeOrder?.intent.signalId, closeOrder?.intent.parentClientOrderId, closeOrder?.state.status]).toEqual(['c1', null, 'filled']);
  });

  it('journals each change of HALT, not each repeat', async () => {
    const halts: string[] = [];
    const inner = openMemoryJournal({ account: ACCOUNT });
    const journal: Journal = { ...inner, recordHalt: (halt) => (halts.push(`${String(halt.halted)}@${halt.at}`), inner.recordHalt(halt)) };
    const { reports } = run(1, [[150, marketBuy('s1')]], () => journal, 1_000, (handler, at) => {
      at(100, () => handler.halted.next(true));
      at(200, () => handler.halted.next(true));
      at(300, () => handler.halted.next(false));
    });
    expect(halts.map((h) => h.split('@')[0])).toEqual(['true', 'false']);
    expect(statuses(ofSignal(reports, 's1'))).toEqual(['REJECTED']);
    expect(await firstValueFrom(inner.lastHalt())).toEqual({ halted: false, at: expect.any(Number) });
  });
});

describe('serialJournal', () => {
  it('begins each write once the one before has answered, so an asynchronous store sees writes in the order they were made', () => {
    const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    scheduler.run(({ expectObservable }) => {
      const begun: string[] = [];
      const inner = openMemoryJournal({ account: ACCOUNT });
      // A store that answers 10 ms after each write begins.
      const slow: Journal = {
        ...inner,
        recordSignal: (signal) =>
          defer(() => {
            begun.push(`${signal.signalId}@${scheduler.now()}`);
            return inner.recordSignal(signal).pipe(delay(10, scheduler));
          }),
      };
      const journal = serialJournal(slow);
      const signal = (signalId: string): SignalRecord => ({
        signalId,
        receivedAt: 0,
        pair: 'XXBTZUSD',
        side: 'buy',
        orderType: 'market',
        quantity: new Decimal('0.01'),
        limitPrice: null,
        stopLoss: null,
        takeProfit: null,
        timeoutMs: null,
      });
      const kinds = (signalId: string): Observable<string> => journal.recordSignal(signal(signalId)).pipe(map((a) => a.kind));
      expectObservable(kinds('a')).toBe('10ms (r|)', { r: 'recorded' });
      expectObservable(kinds('b')).toBe('20ms (r|)', { r: 'recorded' });
      // Unsubscribed before its turn: never begun.
      expectObservable(kinds('c'), '^ 15ms !').toBe('');
      expectObservable(kinds('a')).toBe('30ms (d|)', { d: 'duplicate' });
      scheduler.schedule(() => expect(begun).toEqual(['a@0', 'b@10', 'a@20']), 100);
    });
  });
});
