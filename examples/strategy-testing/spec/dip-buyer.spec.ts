import { Scheduler, cold } from 'jest-marbles';
import { type TestHandler, createTestHandler, statusLetters } from 'kraken-rx-execution/testing';
import { filter, map } from 'rxjs';
import { type DipBuyerRules, dipBuyer } from '../src/dip-buyer';

/**
 * The dip buyer composed with the execution handler, against the paper exchange's engine in virtual time
 * (1 frame = 1 ms). One price marble drives both the strategy and the exchange's last price.
 *
 * Letters (see `statusLetters`): P = PENDING_NEW, N = NEW, p = PARTIALLY_FILLED, F = FILLED,
 * X = PENDING_CANCEL, C = CANCELED, R = REJECTED; `|` is the end of the run (`stopAt`).
 */
const rules: DipBuyerRules = {
  pair: 'BTC/USD',
  buyAtOrBelow: '59000',
  quantity: '0.1',
  stopDistance: '1000',
  takeProfitDistance: '1500',
  entryTimeoutMs: 30_000,
  haltBelow: '56000',
  resumeAbove: '61000',
  closeAtOrAbove: '65000',
};

interface Scenario {
  readonly prices: string;
  readonly values: Record<string, string>;
  readonly rules?: Partial<DipBuyerRules>;
  /** Extra time the exchange takes before it processes a request, per Kraken method. */
  readonly exchangeLatencyMs?: Record<string, number>;
  readonly stopAt: number;
}

/** The strategy over a price marble, wired to a test handler whose exchange plays the same prices. */
function run(scenario: Scenario): TestHandler {
  const prices$ = cold(scenario.prices, scenario.values);
  const strategy = dipBuyer(prices$, { ...rules, ...scenario.rules });
  const kit = createTestHandler({
    scheduler: Scheduler.get(),
    pairs: ['BTC/USD'],
    prices: { 'BTC/USD': '60000' },
    ...strategy,
    ...(scenario.exchangeLatencyMs ? { faults: { latencyMs: scenario.exchangeLatencyMs } } : {}),
  });
  kit.exchange.playPrices('BTC/USD', prices$);
  kit.stopAt(scenario.stopAt);
  return kit;
}

describe('dip buyer on the execution handler', () => {
  it('a limit that times out after a partial fill is protected by a stop sized to the fill', () => {
    // 0.8 BTC at 59000; one price step below it fills 0.5 (the paper's liquidity per step), then nothing more.
    const kit = run({ prices: '-a 999ms b', values: { a: '59000', b: '58950' }, rules: { quantity: '0.8', entryTimeoutMs: 5_000 }, stopAt: 8_000 });
    // a at 1: the dip; P once the pair rules are loaded (10 ms), N when AddOrder is answered (10 ms later).
    // b at 1001 fills 0.5, seen by the monitor at 1031; at the 5 s timeout X, then C and the stop for 0.5 at once.
    const entry = '11ms P 9ms N 1009ms p 3989ms X 59ms C 2918ms |';
    const stop = '5081ms P 9ms N 2908ms |';
    expect(statusLetters(kit.reports$, { signalId: 'dip-1', role: 'entry' })).toBeMarble(entry);
    expect(statusLetters(kit.reports$, { signalId: 'dip-1', role: 'stop-loss' })).toBeMarble(stop);
    expect(kit.reports$).toSatisfyOnFlush(() => {
      const [limit, stopLoss] = kit.inspect.orders();
      expect([limit?.status, limit?.volumeExecuted.toFixed()]).toEqual(['canceled', '0.5']);
      expect([stopLoss?.orderType, stopLoss?.status, stopLoss?.volume.toFixed(), stopLoss?.price?.toFixed()]).toEqual(['stop-loss', 'open', '0.5', '58000']);
    });
  });

  it('a stop that fills while the take-profit is watched ends the watch: no take-profit order', () => {
    const kit = run({ prices: '-a 999ms b 2999ms d', values: { a: '59000', b: '58950', d: '57900' }, stopAt: 8_000 });
    expect(statusLetters(kit.reports$, { signalId: 'dip-1', role: 'entry' })).toBeMarble('11ms P 9ms N 2029ms F 5948ms |');
    expect(statusLetters(kit.reports$, { signalId: 'dip-1', role: 'stop-loss' })).toBeMarble('2051ms P 9ms N 2029ms F 3908ms |');
    expect(statusLetters(kit.reports$, { signalId: 'dip-1', role: 'take-profit' })).toBeMarble('8000ms |');
    expect(kit.reports$).toSatisfyOnFlush(() => {
      expect(kit.inspect.orders().map((o) => [o.orderType, o.side, o.status])).toEqual([
        ['limit', 'buy', 'closed'],
        ['stop-loss', 'sell', 'closed'],
      ]);
    });
  });

  it('a HALT while a placement is in flight: the placement completes, the next dip is rejected', () => {
    // The exchange takes 500 ms to process an AddOrder; the crash (b) HALTs the strategy meanwhile.
    const kit = run({
      prices: '-a 99ms b 499ms c 99ms d',
      values: { a: '59000', b: '55000', c: '59500', d: '58900' },
      exchangeLatencyMs: { AddOrder: 500 },
      stopAt: 8_000,
    });
    expect(statusLetters(kit.reports$, { signalId: 'dip-1', role: 'entry' })).toBeMarble('11ms P 509ms N 2029ms F 5448ms |');
    // dip-1 was sent at 11 and is answered at 521 (N); the crash at 101 HALTs; dip-2 at 701 is rejected at once.
    expect(statusLetters(kit.reports$, { signalId: 'dip-2' })).toBeMarble('701ms R 7298ms |');
  });

  it('a lockout opens the breaker: a dip during the cool-down is rejected, the next one after it is placed', () => {
    const kit = run({
      prices: '-a 999ms b 999ms c 1999ms d 99ms e 2899ms f',
      values: { a: '59000', b: '58950', c: '59500', d: '58800', e: '59500', f: '58700' },
      stopAt: 8_000,
    });
    // The first monitoring call after 2.5 s is answered EGeneral:Temporary lockout: the breaker opens at once.
    kit.exchange.faultAt(2_500, 'OpenOrders', 'temporary-lockout');
    // The lockout is answered at 3071; the 3 s cool-down runs to 6071, and the rejection says so.
    expect(statusLetters(kit.reports$, { signalId: 'dip-2' })).toBeMarble('4001ms (PR) 4106ms |');
    const rejection = kit.reports$.pipe(
      filter((r) => r.signalId === 'dip-2' && r.status === 'REJECTED'),
      map((r) => r.reason),
    );
    expect(rejection).toBeObservable(cold('4001ms r 4109ms |', { r: 'circuit breaker open: calls fail fast until 2026-01-05T09:00:06.071Z' }));
    // After the cool-down the next dip is placed as usual; the stop at 8000 cancels it (it is still working).
    expect(statusLetters(kit.reports$, { signalId: 'dip-3', role: 'entry' })).toBeMarble('7001ms P 9ms N 988ms X 110ms (C|)');
  });
});
