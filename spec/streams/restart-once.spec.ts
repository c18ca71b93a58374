import { describe, expect, it } from '@jest/globals';
import { Decimal } from 'decimal.js';
import { type Subscription } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { type MemoryJournalStore, createMemoryJournalStore, openMemoryJournal } from '../../src/journal/memory';
import { type Journal, JournalError, type SignalRecord } from '../../src/model/journal';
import { throwError } from 'rxjs';
import { type ExecutionReport } from '../../src/model/report';
import { type TradeSignal } from '../../src/model/signal';
import { START_FAILED } from '../../src/streams/execution-handler';
import { SIGNAL_WITHOUT_ORDER } from '../../src/streams/reconcile';
import { type TestHandler, createTestHandler } from '../../src/testing';
import { type VirtualExchange } from '../../src/testing/virtual-exchange';

/**
 * "Exactly once, across restarts": what a start reports about what an earlier process left behind is reported by
 * one start only, and a signal taken while a start is under way is never dropped without a report.
 */

const ACCOUNT = 'acct-restart-once';
const PAIR = 'BTC/USD';

const buy = (signalId: string, fields: Partial<TradeSignal> = {}): TradeSignal => ({
  signalId,
  pair: PAIR,
  side: 'buy',
  orderType: 'market',
  quantity: '0.01',
  stopLoss: '58000',
  ...fields,
});

interface Life {
  readonly kit: TestHandler;
  readonly reports: ExecutionReport[];
  readonly failures: unknown[];
  readonly warnings: string[];
  completed: boolean;
}

interface Script {
  readonly startAt: number;
  readonly signals?: readonly (readonly [number, TradeSignal])[];
  readonly end: { readonly at: number; readonly how: 'kill' | 'stop' };
  readonly protectionMode?: 'stop-resting' | 'both-resting';
  /** The journal this life opens on the store; default: the in-memory one as it is. */
  readonly journal?: (store: MemoryJournalStore) => Journal;
}

interface World {
  readonly scheduler: TestScheduler;
  readonly store: MemoryJournalStore;
  life(script: Script): Life;
  exchange(): VirtualExchange;
}

/** Lives of the handler one after the other in virtual time, on one journal store and one virtual exchange. */
function world(body: (w: World) => void): void {
  const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  const store = createMemoryJournalStore();
  let exchange: VirtualExchange | null = null;
  let seed = 1;
  scheduler.run(({ flush }) => {
    const life = (script: Script): Life => {
      const warnings: string[] = [];
      const log = { debug: () => undefined, info: () => undefined, warn: (...a: unknown[]) => void warnings.push(a.map(String).join(' ')), error: () => undefined };
      const kit = createTestHandler({
        scheduler,
        seed: (seed += 10),
        pairs: [PAIR],
        prices: { [PAIR]: '60000' },
        journal: script.journal ? script.journal(store) : openMemoryJournal({ account: ACCOUNT, store }),
        log,
        ...(exchange ? { exchange } : {}),
        ...(script.protectionMode ? { config: { protection: { mode: script.protectionMode, takeProfitPollMs: 1_000 } } } : {}),
      });
      exchange ??= kit.exchange;
      const lived: Life = { kit, reports: [], failures: [], warnings, completed: false };
      let subscription: Subscription | null = null;
      scheduler.schedule(() => {
        subscription = kit.reports$.subscribe({
          next: (r) => lived.reports.push(r),
          error: (e: unknown) => lived.failures.push(e),
          complete: () => (lived.completed = true),
        });
      }, script.startAt);
      for (const [frame, signal] of script.signals ?? []) scheduler.schedule(() => kit.signals.next(signal), frame);
      if (script.end.how === 'stop') kit.stopAt(script.end.at);
      else scheduler.schedule(() => subscription?.unsubscribe(), script.end.at);
      return lived;
    };
    body({
      scheduler,
      store,
      life,
      exchange: () => {
        if (!exchange) throw new Error('no life yet');
        return exchange;
      },
    });
    flush();
  });
}

const of = (reports: readonly ExecutionReport[], signalId: string): ExecutionReport[] => reports.filter((r) => r.signalId === signalId);
const lines = (reports: readonly ExecutionReport[]): string[] => reports.map((r) => `${r.status} ${r.reason ?? ''}`);

/** A signal as `admitSignal` journals it: what a process that died before journaling its order leaves. */
const journaledSignal = (signalId: string, receivedAt: number): SignalRecord => ({
  signalId,
  receivedAt,
  pair: 'XXBTZUSD',
  side: 'buy',
  orderType: 'market',
  quantity: new Decimal('0.01'),
  limitPrice: null,
  stopLoss: new Decimal('58000'),
  takeProfit: null,
  timeoutMs: null,
});

describe('restart: a signal journaled whose order never was', () => {
  it('gets one REJECTED at the next start saying nothing was sent, none at the start after, and a replay is a duplicate', () => {
    const lives: Life[] = [];
    world((w) => {
      lives.push(w.life({ startAt: 0, signals: [[1, buy('s1')]], end: { at: 10_000, how: 'kill' } }));
      // As if the process died after journaling s2's signal, before journaling its order (an async journal's window).
      w.scheduler.schedule(() => openMemoryJournal({ account: ACCOUNT, store: w.store }).recordSignal(journaledSignal('s2', 10_000)).subscribe(), 10_000);
      lives.push(w.life({ startAt: 20_000, end: { at: 40_000, how: 'stop' } }));
      lives.push(w.life({ startAt: 50_000, signals: [[50_001, buy('s2')]], end: { at: 80_000, how: 'stop' } }));
    });
    const [one, two, three] = lives as [Life, Life, Life];
    expect([...one.failures, ...two.failures, ...three.failures]).toEqual([]);
    expect(lines(of(two.reports, 's2'))).toEqual([`REJECTED ${SIGNAL_WITHOUT_ORDER}`]);
    const rejected = of(two.reports, 's2')[0];
    expect([rejected?.pair, rejected?.side, rejected?.quantityOrdered?.toFixed(), rejected?.clientOrderId]).toEqual(['XXBTZUSD', 'buy', '0.01', null]);
    // s1 had its order: it is reconciled as an order, never rejected as a signal without one.
    expect(of(two.reports, 's1').filter((r) => r.status === 'REJECTED')).toEqual([]);
    // The third start says nothing more of s2; its replay is the duplicate it is, and nothing is sent for it.
    expect(lines(of(three.reports, 's2'))).toEqual([expect.stringMatching(/^REJECTED signalId: duplicate signalId: already journaled/)]);
    // One entry was ever sent (s1's); after the first life only s1's stop-loss, put on what filled while down.
    const adds = one.kit.exchange.sent('AddOrder').map((r) => `${String(r.params['ordertype'])} ${String(r.params['type'])}`);
    expect(adds).toEqual(['market buy', 'stop-loss sell']);
  });
});

describe('restart: a signal whose order intent the journal refused', () => {
  it('is REJECTED once, in its own run: the next start does not report it again', () => {
    const lives: Life[] = [];
    world((w) => {
      const refusingIntents = (store: MemoryJournalStore): Journal => {
        const inner = openMemoryJournal({ account: ACCOUNT, store });
        return { ...inner, recordIntent: () => throwError(() => new JournalError('storage', 'disk full')) };
      };
      lives.push(w.life({ startAt: 0, journal: refusingIntents, signals: [[1, buy('s1')]], end: { at: 10_000, how: 'stop' } }));
      lives.push(w.life({ startAt: 20_000, end: { at: 40_000, how: 'stop' } }));
    });
    const [one, two] = lives as [Life, Life];
    expect(lines(of(one.reports, 's1'))).toEqual([expect.stringMatching(/^REJECTED journal: .*disk full; not sent$/)]);
    expect(of(two.reports, 's1')).toEqual([]);
  });
});

describe('restart: an order the handler did not place', () => {
  it('is reported once across restarts, and never touched', () => {
    const lives: Life[] = [];
    const foreignId = '00000000-0000-4000-8000-00000000f0f0';
    let foreignTxid = '';
    world((w) => {
      lives.push(w.life({ startAt: 0, end: { at: 5_000, how: 'stop' } }));
      const ex = w.exchange();
      w.scheduler.schedule(() => {
        ex.port
          .placeOrder({ clientOrderId: foreignId, pair: 'XXBTZUSD', side: 'sell', orderType: 'limit', volume: new Decimal('0.5'), price: new Decimal('70000') })
          .subscribe((placed) => (foreignTxid = placed.txid));
      }, 6_000);
      lives.push(w.life({ startAt: 20_000, end: { at: 40_000, how: 'stop' } }));
      lives.push(w.life({ startAt: 50_000, end: { at: 70_000, how: 'stop' } }));
    });
    const [one, two, three] = lives as [Life, Life, Life];
    expect(foreignTxid).not.toBe('');
    // Said by the first start that saw it (the first life's, still reconciling when the order appeared), by no later one.
    const said = (life: Life): number => life.warnings.filter((line) => line.includes(foreignTxid)).length;
    expect([said(one), said(two), said(three)]).toEqual([1, 0, 0]);
    expect(two.kit.exchange.sent('CancelOrder')).toEqual([]);
    expect(two.kit.exchange.inspect.openOrders().map((o) => o.txid)).toEqual([foreignTxid]);
  });
});


describe('restart: protection restored with the mode journaled with the order', () => {
  const limitBuy = buy('s1', { orderType: 'limit', limitPrice: '59000', timeoutMs: 600_000, takeProfit: '61000' });
  const resting = (ex: VirtualExchange): string[] => ex.inspect.openOrders().map((o) => `${o.orderType} ${o.side}`).sort();

  it('an entry placed both-resting that fills after a restart under stop-resting gets both orders resting', () => {
    const lives: Life[] = [];
    world((w) => {
      lives.push(w.life({ startAt: 0, protectionMode: 'both-resting', signals: [[1, limitBuy]], end: { at: 10_000, how: 'kill' } }));
      w.exchange().setPriceAt(40_000, PAIR, '59000');
      lives.push(w.life({ startAt: 20_000, protectionMode: 'stop-resting', end: { at: 80_000, how: 'stop' } }));
    });
    const [one, two] = lives as [Life, Life];
    expect([...one.failures, ...two.failures]).toEqual([]);
    expect(of(two.reports, 's1').filter((r) => r.role === 'take-profit').map((r) => r.status)).toEqual(['PENDING_NEW', 'NEW']);
    expect(resting(one.kit.exchange)).toEqual(['stop-loss sell', 'take-profit sell']);
    expect(two.warnings.filter((line) => line.includes('protection mode'))).toEqual([]);
  });

  it('an entry placed stop-resting that fills after a restart under both-resting keeps its take-profit watched', () => {
    const lives: Life[] = [];
    world((w) => {
      lives.push(w.life({ startAt: 0, protectionMode: 'stop-resting', signals: [[1, limitBuy]], end: { at: 10_000, how: 'kill' } }));
      w.exchange().setPriceAt(40_000, PAIR, '59000');
      lives.push(w.life({ startAt: 20_000, protectionMode: 'both-resting', end: { at: 80_000, how: 'stop' } }));
    });
    const [one, two] = lives as [Life, Life];
    expect([...one.failures, ...two.failures]).toEqual([]);
    expect(of(two.reports, 's1').filter((r) => r.role === 'take-profit')).toEqual([]);
    expect(resting(one.kit.exchange)).toEqual(['stop-loss sell']);
  });
});

describe('restart: a both-resting entry whose protection is gone is protected both-resting again', () => {
  const marketBuy = buy('s1', { takeProfit: '61000' });
  const resting = (ex: VirtualExchange): string[] => ex.inspect.openOrders().map((o) => `${o.orderType} ${o.side} ${o.volume.toFixed()}`).sort();
  /** Cancels, while no handler runs, the open orders of the given types (as a person on the exchange's site would). */
  const cancelWhileDown = (w: World, at: number, types: readonly string[]): void => {
    w.scheduler.schedule(() => {
      const ex = w.exchange();
      for (const order of ex.inspect.openOrders().filter((o) => types.includes(o.orderType))) ex.port.cancelOrder({ txid: order.txid }).subscribe();
    }, at);
  };

  it('both gone: a stop-loss and a take-profit rest again, one cancelling the other, and no client-side watch', () => {
    const lives: Life[] = [];
    world((w) => {
      lives.push(w.life({ startAt: 0, protectionMode: 'both-resting', signals: [[1, marketBuy]], end: { at: 15_000, how: 'kill' } }));
      cancelWhileDown(w, 16_000, ['stop-loss', 'take-profit']);
      w.exchange().setPriceAt(60_000, PAIR, '62000');
      lives.push(w.life({ startAt: 20_000, protectionMode: 'stop-resting', end: { at: 120_000, how: 'stop' } }));
    });
    const [one, two] = lives as [Life, Life];
    const ex = one.kit.exchange;
    expect([...one.failures, ...two.failures]).toEqual([]);
    expect(resting(ex)).toEqual([]);
    const restored = (role: string) => of(two.reports, 's1').filter((r) => r.role === role && r.clientOrderId !== of(one.reports, 's1').find((o) => o.role === role)?.clientOrderId);
    // The take-profit rests and fills at 62000; the stop it no longer needs is cancelled (one cancels the other).
    expect(restored('take-profit').map((r) => `${r.orderType} ${r.status}`)).toEqual(['take-profit PENDING_NEW', 'take-profit NEW', 'take-profit FILLED']);
    expect(restored('stop-loss').map((r) => `${r.status} ${r.reason ?? ''}`)).toEqual(['PENDING_NEW ', 'NEW ', 'PENDING_CANCEL cancel: one-cancels-other', 'CANCELED cancelled: one-cancels-other']);
    expect(ex.sent('AddOrder').filter((r) => r.frame >= 20_000 && r.params['ordertype'] === 'market')).toEqual([]);
    expect(two.kit.handler.positions()).toEqual([]);
  });

  it('its stop gone, its take-profit resting: the new stop is cancelled when the take-profit fills', () => {
    const lives: Life[] = [];
    world((w) => {
      lives.push(w.life({ startAt: 0, protectionMode: 'both-resting', signals: [[1, marketBuy]], end: { at: 15_000, how: 'kill' } }));
      cancelWhileDown(w, 16_000, ['stop-loss']);
      w.exchange().setPriceAt(60_000, PAIR, '62000');
      lives.push(w.life({ startAt: 20_000, protectionMode: 'both-resting', end: { at: 120_000, how: 'stop' } }));
    });
    const [one, two] = lives as [Life, Life];
    const ex = one.kit.exchange;
    expect([...one.failures, ...two.failures]).toEqual([]);
    expect(of(two.reports, 's1').filter((r) => r.role === 'take-profit').map((r) => r.status)).toEqual(['FILLED']);
    const stops = of(two.reports, 's1').filter((r) => r.role === 'stop-loss');
    // The stop cancelled while down is reported, the new one placed, then cancelled when the take-profit fills.
    expect(stops.map((r) => `${r.status} ${r.reason ?? ''}`).slice(-4)).toEqual([
      'PENDING_NEW ',
      'NEW ',
      'PENDING_CANCEL cancel: one-cancels-other',
      'CANCELED cancelled: one-cancels-other',
    ]);
    expect(resting(ex)).toEqual([]);
    expect(two.kit.handler.positions()).toEqual([]);
  });
});

describe('restart: signals that arrive while the start-up reconciliation runs', () => {
  it('are placed, each with its reports, when stop() comes before the reconciliation ends (taken, so in flight)', () => {
    const lives: Life[] = [];
    world((w) => {
      lives.push(w.life({ startAt: 0, signals: [[1, buy('s1')]], end: { at: 10_000, how: 'kill' } }));
      const ex = w.exchange();
      // The second start's OpenOrders fails for a while (retried): its reconciliation is still under way at stop().
      w.scheduler.schedule(() => {
        const refusal = ex.refuse('OpenOrders', 'EService:Unavailable');
        w.scheduler.schedule(() => refusal.unsubscribe(), 25_000);
      }, 15_000);
      lives.push(w.life({ startAt: 20_000, signals: [[20_100, buy('s2')], [20_200, buy('s3')]], end: { at: 21_000, how: 'stop' } }));
    });
    const two = lives[1] as Life;
    expect(two.failures).toEqual([]);
    for (const signalId of ['s2', 's3']) {
      expect(of(two.reports, signalId).map((r) => `${r.role} ${r.status}`)).toEqual([
        'entry PENDING_NEW',
        'entry NEW',
        'entry FILLED',
        'stop-loss PENDING_NEW',
        'stop-loss NEW',
      ]);
    }
    expect(two.completed).toBe(true);
  });

  it('each get a REJECTED before the run errors when the start-up reconciliation fails; nothing is sent for them', () => {
    const lives: Life[] = [];
    world((w) => {
      lives.push(w.life({ startAt: 0, signals: [[100, buy('s1')], [200, buy('s2')]], end: { at: 60_000, how: 'stop' } }));
      // The start's OpenOrders is refused for good: its reconciliation cannot go on blind.
      w.exchange().refuse('OpenOrders', 'EGeneral:Permission denied');
    });
    const one = lives[0] as Life;
    expect(one.failures).toHaveLength(1);
    const failure = one.failures[0] instanceof Error ? one.failures[0].message : String(one.failures[0]);
    const reason = `REJECTED ${START_FAILED}: ${failure}`;
    expect([...lines(of(one.reports, 's1')), ...lines(of(one.reports, 's2'))]).toEqual([reason, reason]);
    expect(one.kit.exchange.sent('AddOrder')).toEqual([]);
  });
});
