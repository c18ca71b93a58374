import { describe, expect, it } from '@jest/globals';
import { BehaviorSubject, type Observable, Subject } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { type ExecutionReport } from '../../src/model/report';
import { type ClosePositionCommand, type TradeSignal } from '../../src/model/signal';
import { type TestHandler, createTestHandler } from '../../src/testing';

/**
 * Bursts far larger than the call stack is deep: signals that queue behind one another (behind the pair list,
 * behind placements in flight, behind a breaker that opens) must each be answered, under Node's default stack
 * size. Before the fix, they were started one inside another and the stack overflowed after a few hundred.
 */
const BURST = 10_000;

const limitBuy = (signalId: string): TradeSignal => ({ signalId, pair: 'XBTUSD', side: 'buy', orderType: 'limit', quantity: '1', limitPrice: '100', timeoutMs: 600_000 });
/** Rejected by validation (no price read, no call): the cheapest answer, so the burst is all about queueing. */
const unknownPair = (signalId: string): TradeSignal => ({ signalId, pair: 'NOPE/USD', side: 'buy', orderType: 'limit', quantity: '1', limitPrice: '1' });

/** Every hundredth signal a valid limit entry, the rest rejected by validation. */
const burst = (prefix: string): TradeSignal[] =>
  Array.from({ length: BURST }, (_, i) => (i % 100 === 0 ? limitBuy(`${prefix}-${i}`) : unknownPair(`${prefix}-${i}`)));

interface Burst {
  readonly kit: TestHandler;
  readonly reports: ExecutionReport[];
  readonly failures: unknown[];
  readonly completed: () => boolean;
}

/** The old scenarios' timings: 3 failures open the breaker for 60 s, a 100 ms first back-off without jitter. */
const config = { retry: { maxAttempts: 4, initialDelayMs: 100, maxDelayMs: 1_000, jitter: 0 }, breaker: { failureThreshold: 3, cooldownMs: 60_000 } };

/** Runs the burst in virtual time (1 frame = 1 ms) against the paper engine. */
function marbles(body: (helpers: { readonly scheduler: TestScheduler; readonly flush: () => void }) => void): void {
  const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  scheduler.run(({ flush }) => body({ scheduler, flush }));
}

function runBurst(
  scheduler: TestScheduler,
  latencyMs: number,
  signals$: Observable<TradeSignal>,
  halted$?: Observable<boolean>,
  commands$?: Observable<ClosePositionCommand>,
): Burst {
  // The pro tier: a hundred resting buys (at 100, under the last 200) stay under its open-order limit and trading counter.
  const kit = createTestHandler({
    scheduler,
    latencyMs,
    tier: 'pro',
    prices: { XBTUSD: '200' },
    config,
    signals$,
    ...(halted$ ? { halted$ } : {}),
    ...(commands$ ? { commands$ } : {}),
  });
  const reports: ExecutionReport[] = [];
  const failures: unknown[] = [];
  let completed = false;
  kit.reports$.subscribe({ next: (report) => reports.push(report), error: (error: unknown) => failures.push(error), complete: () => (completed = true) });
  kit.stopAt(100_000);
  return { kit, reports, failures, completed: () => completed };
}

/** Signal ids that got no report at all. */
const unanswered = (signals: readonly TradeSignal[], reports: readonly ExecutionReport[]): string[] => {
  const answered = new Set(reports.map((report) => report.signalId));
  return signals.map((signal) => signal.signalId).filter((id) => !answered.has(id));
};

describe('a burst of signals', () => {
  it(`${BURST.toLocaleString('en')} signals at once before the pair list loads: every one gets a report, and a signal after the burst is answered`, () => {
    marbles(({ scheduler, flush }) => {
      // A slow AssetPairs (every answer 500 ms away): the whole burst queues behind it.
      const signals$ = new Subject<TradeSignal>();
      const signals = burst('b');
      const { reports, failures, completed } = runBurst(scheduler, 500, signals$);
      scheduler.schedule(() => signals.forEach((signal) => signals$.next(signal)), 1);
      scheduler.schedule(() => signals$.next(limitBuy('after')), 20_000);
      flush();
      expect(failures).toEqual([]);
      expect(unanswered(signals, reports)).toEqual([]);
      expect(reports.filter((r) => r.signalId.startsWith('b-') && r.status === 'REJECTED')).toHaveLength(BURST - BURST / 100);
      expect(reports.filter((r) => r.signalId.startsWith('b-') && r.status === 'NEW')).toHaveLength(BURST / 100);
      expect(reports.filter((r) => r.signalId === 'after').map((r) => r.status).slice(0, 2)).toEqual(['PENDING_NEW', 'NEW']);
      expect(completed()).toBe(true);
    });
  });

  it(`${BURST.toLocaleString('en')} signals during a HALT, queued behind one waiting for the pair list: each is rejected with a report`, () => {
    marbles(({ scheduler, flush }) => {
      const signals$ = new Subject<TradeSignal>();
      const halted$ = new BehaviorSubject(false);
      const signals = Array.from({ length: BURST }, (_, i) => limitBuy(`h-${i}`));
      const { kit, reports, failures } = runBurst(scheduler, 500, signals$, halted$);
      scheduler.schedule(() => {
        signals$.next(limitBuy('first'));
        halted$.next(true);
        signals.forEach((signal) => signals$.next(signal));
      }, 1);
      scheduler.schedule(() => halted$.next(false), 10_000);
      scheduler.schedule(() => signals$.next(limitBuy('after')), 20_000);
      flush();
      expect(failures).toEqual([]);
      expect(unanswered(signals, reports)).toEqual([]);
      const halted = reports.filter((r) => r.signalId.startsWith('h-'));
      expect(halted).toHaveLength(BURST);
      expect(new Set(halted.map((r) => `${r.status} ${r.reason ?? ''}`))).toEqual(new Set(['REJECTED halted: HALT is on: new entries are rejected']));
      // The first signal waited for the pair list too, so HALT stopped it as well: only 'after' was placed.
      expect(reports.filter((r) => r.signalId === 'first').map((r) => r.status)).toEqual(['REJECTED']);
      expect(kit.inspect.requestCounts().get('AddOrder')).toBe(1);
      expect(reports.filter((r) => r.signalId === 'after').map((r) => r.status).slice(0, 2)).toEqual(['PENDING_NEW', 'NEW']);
    });
  });

  it(`${BURST.toLocaleString('en')} signals while the pair list keeps failing and the breaker opens: each is rejected, and the run answers after the cool-down`, () => {
    marbles(({ scheduler, flush }) => {
      const signals$ = new Subject<TradeSignal>();
      const signals = burst('c');
      const { kit, reports, failures } = runBurst(scheduler, 10, signals$);
      // The pair list is down (EService:Unavailable, 3 times): retried with backoff until the breaker opens (3
      // failures in a row), so the burst queues behind the first signal and is then refused fast while it is open.
      kit.exchange.faults.inject('AssetPairs', 'service-unavailable', 3);
      scheduler.schedule(() => signals.forEach((signal) => signals$.next(signal)), 1);
      // After the 60 s cool-down the breaker lets a probe through: the pair list loads and the entry is placed.
      scheduler.schedule(() => signals$.next(limitBuy('after')), config.breaker.cooldownMs + 1_000);
      flush();
      expect(failures).toEqual([]);
      expect(unanswered(signals, reports)).toEqual([]);
      const rejected = reports.filter((r) => r.signalId.startsWith('c-'));
      expect(rejected).toHaveLength(BURST);
      expect(rejected.every((r) => r.status === 'REJECTED' && (r.reason ?? '').startsWith('pair: pair rules unavailable'))).toBe(true);
      expect(kit.inspect.requestCounts().get('AssetPairs')).toBe(4);
      expect(reports.filter((r) => r.signalId === 'after').map((r) => r.status).slice(0, 2)).toEqual(['PENDING_NEW', 'NEW']);
    });
  });

  it(`${BURST.toLocaleString('en')} close commands at once before the pair list loads: every one gets a report, and a close after the burst is answered`, () => {
    marbles(({ scheduler, flush }) => {
      const commands$ = new Subject<ClosePositionCommand>();
      // Nothing is tracked: each close of the pair is rejected (nothing to close), one after the other on the pair's queue.
      const commands = Array.from({ length: BURST }, (_, i): ClosePositionCommand => ({ commandId: `c-${i}`, pair: 'XBTUSD' }));
      const { reports, failures, completed } = runBurst(scheduler, 500, new Subject<TradeSignal>(), undefined, commands$);
      scheduler.schedule(() => commands.forEach((command) => commands$.next(command)), 1);
      scheduler.schedule(() => commands$.next({ commandId: 'after', pair: 'XBTUSD' }), 20_000);
      flush();
      expect(failures).toEqual([]);
      const answered = new Set(reports.map((report) => report.signalId));
      expect(commands.filter((command) => !answered.has(command.commandId)).map((command) => command.commandId)).toEqual([]);
      expect(reports.filter((r) => r.signalId === 'after').map((r) => r.status)).toEqual(['REJECTED']);
      expect(completed()).toBe(true);
    });
  });
});
