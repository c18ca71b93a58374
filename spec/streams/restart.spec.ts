import { describe, expect, it } from '@jest/globals';
import { type Subscription } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { createMemoryJournalStore, openMemoryJournal } from '../../src/journal/memory';
import { type Journal } from '../../src/model/journal';
import { type ExecutionReport } from '../../src/model/report';
import { type ClosePositionCommand, type TradeSignal } from '../../src/model/signal';
import { type TestHandler, createTestHandler } from '../../src/testing';
import { type VirtualExchange } from '../../src/testing/virtual-exchange';

const ACCOUNT = 'acct-restart';
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
const close = (commandId: string, quantity?: string): ClosePositionCommand => ({ commandId, pair: PAIR, ...(quantity ? { quantity } : {}) });

/** One process's life: its kit, its reports, its failures, what it logged at warn and error. */
interface Life {
  readonly kit: TestHandler;
  readonly reports: ExecutionReport[];
  readonly failures: unknown[];
  readonly warnings: string[];
  readonly errors: string[];
  completed: boolean;
}

/** What a life does at its frames (absolute, on the shared scheduler). */
interface Script {
  readonly signals?: readonly (readonly [number, TradeSignal])[];
  readonly commands?: readonly (readonly [number, ClosePositionCommand])[];
  /** Frame it starts (subscribes). */
  readonly startAt: number;
  /** Frame it ends: `kill` unsubscribes (a crash: nothing cancelled), `stop` calls `handler.stop()`. */
  readonly end: { readonly at: number; readonly how: 'kill' | 'stop' };
}

interface World {
  readonly scheduler: TestScheduler;
  /** A new process on the same store, the same exchange (the first life's): its journal is opened afresh. */
  life(script: Script): Life;
  readonly exchange: () => VirtualExchange;
}

/**
 * Lives of the handler one after the other in virtual time, each a fresh journal on one shared store (a
 * restart) against one virtual exchange; `body` scripts them and the prices; `after` looks at the end.
 */
function world(body: (world: World) => void, options: { readonly journalFor?: (store: ReturnType<typeof createMemoryJournalStore>) => Journal } = {}): void {
  const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  const store = createMemoryJournalStore();
  const journalFor = options.journalFor ?? ((s) => openMemoryJournal({ account: ACCOUNT, store: s }));
  let exchange: VirtualExchange | null = null;
  let seed = 1;
  scheduler.run(({ flush }) => {
    const life = (script: Script): Life => {
      const warnings: string[] = [];
      const errors: string[] = [];
      const text = (args: unknown[]): string => args.map(String).join(' ');
      const log = { debug: () => undefined, info: () => undefined, warn: (...a: unknown[]) => void warnings.push(text(a)), error: (...a: unknown[]) => void errors.push(text(a)) };
      const kit = createTestHandler({
        scheduler,
        seed: (seed += 10),
        pairs: [PAIR],
        prices: { [PAIR]: '60000' },
        journal: journalFor(store),
        log,
        ...(exchange ? { exchange } : {}),
      });
      exchange ??= kit.exchange;
      const lived: Life = { kit, reports: [], failures: [], warnings, errors, completed: false };
      let subscription: Subscription | null = null;
      scheduler.schedule(() => {
        subscription = kit.reports$.subscribe({
          next: (r) => lived.reports.push(r),
          error: (e: unknown) => lived.failures.push(e),
          complete: () => (lived.completed = true),
        });
      }, script.startAt);
      for (const [frame, signal] of script.signals ?? []) scheduler.schedule(() => kit.signals.next(signal), frame);
      for (const [frame, command] of script.commands ?? []) scheduler.schedule(() => kit.commands.next(command), frame);
      if (script.end.how === 'stop') kit.stopAt(script.end.at);
      else scheduler.schedule(() => subscription?.unsubscribe(), script.end.at);
      return lived;
    };
    body({ scheduler, life, exchange: () => {
      if (!exchange) throw new Error('no life yet');
      return exchange;
    } });
    flush();
  });
}

const of = (reports: readonly ExecutionReport[], signalId: string, role?: string): ExecutionReport[] =>
  reports.filter((r) => r.signalId === signalId && (role === undefined || r.role === role));
const statuses = (reports: readonly ExecutionReport[]): string[] => reports.map((r) => r.status);
const open = (exchange: VirtualExchange) => exchange.inspect.openOrders();

describe('restart: what the journal restores', () => {
  it('a stop left resting by run 1 is known to run 2: a close cancels it and sells what the journal holds', () => {
    let first: Life | null = null;
    let second: Life | null = null;
    let exchange: VirtualExchange | null = null;
    world((w) => {
      first = w.life({ startAt: 0, signals: [[1, buy('s1')]], end: { at: 5_000, how: 'stop' } });
      exchange = w.exchange();
      second = w.life({ startAt: 20_000, commands: [[40_000, close('c1')]], end: { at: 80_000, how: 'stop' } });
    });
    if (!first || !second || !exchange) throw new Error('not run');
    const [one, two, ex]: [Life, Life, VirtualExchange] = [first, second, exchange];
    expect(one.failures).toEqual([]);
    expect(two.failures).toEqual([]);
    expect(statuses(of(one.reports, 's1', 'stop-loss'))).toEqual(['PENDING_NEW', 'NEW']);
    // The second run reports nothing about s1 at start (nothing changed), then the close cancels the stop.
    expect(statuses(of(two.reports, 's1', 'stop-loss'))).toEqual(['PENDING_CANCEL', 'CANCELED']);
    const closed = of(two.reports, 'c1');
    expect(statuses(closed)).toEqual(['PENDING_NEW', 'NEW', 'FILLED']);
    expect(closed[2]?.quantityFilled.toFixed()).toBe('0.01');
    expect(open(ex)).toEqual([]);
    expect(two.completed).toBe(true);
  });
});
