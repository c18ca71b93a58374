import { afterEach, expect } from '@jest/globals';
import { type Observable } from 'rxjs';
import { type TestScheduler } from 'rxjs/testing';
import { type ExecutionConfig } from '../../src/model/config';
import { type Journal } from '../../src/model/journal';
import { type ExecutionReport } from '../../src/model/report';
import { type ClosePositionCommand, type DecimalInput, type TradeSignal } from '../../src/model/signal';
import { type InspectedOrder } from '../../src/paper/inspect';
import { type ExecutionHandler } from '../../src/streams/execution-handler';
import { type VirtualExchange, type VirtualExchangeOptions, createTestHandler } from '../../src/testing';
import { config as baseConfig } from './fake-exchange';
import { quiet } from './stream-deps';

/**
 * Handler scenarios on the testing kit: `createTestHandler` over the paper engine in virtual time (1 frame = 1 ms),
 * the one exchange the stream specs share (burst.spec, execution-handler.spec, close-position.spec). Fills come
 * from price moves (`setPriceAt`, with `{ liquidity }` for a partial fill), faults from the paper's fault plan or
 * `refuse`; `FakePort` (fake-exchange.ts) stays for port-level answers no exchange would give.
 *
 * A run whose reports$ fails (the kit's run limit: something still polling long after stop()) fails its test.
 */

const failures: unknown[] = [];
afterEach(() => {
  const failed = failures.splice(0);
  expect(failed).toEqual([]);
});

export interface Run {
  readonly handler: ExecutionHandler;
  readonly exchange: VirtualExchange;
  readonly reports: ExecutionReport[];
  readonly completedAt: () => number | null;
}

export interface Inputs {
  readonly signals$: Observable<TradeSignal>;
  readonly commands$?: Observable<ClosePositionCommand>;
  readonly halted$?: Observable<boolean>;
}

export interface RunOptions {
  /** Default: fake-exchange's short-interval `config`. */
  readonly config?: ExecutionConfig;
  /** Every answer this long after its request (default 10 ms). */
  readonly latencyMs?: number;
  /** XBTUSD's last price (default 100). */
  readonly price?: DecimalInput;
  /** XBT the account holds before the run, besides what the handler buys (default none). */
  readonly xbt?: DecimalInput;
  /** The run fails (and so the test) if it is still going this many virtual ms in. Default 300 000. */
  readonly runLimitMs?: number;
  /**
   * Leaves the run at this frame (as an unsubscription marble does) instead of waiting for reports$ to complete:
   * for a scenario whose run does not end by itself.
   */
  readonly endAt?: number;
  /** Scripts the exchange before the run's first request (at frame 0). */
  readonly before?: (exchange: VirtualExchange) => void;
  /** Journal the run (it then reconciles at start); default the handler's fresh in-memory journal. */
  readonly journal?: Journal;
}

/**
 * The exchange of these scenarios: the paper engine with XBTUSD only, a last price of 100, answers 10 ms after
 * each request, no rate limit (the `unlimited` tier: the scenarios are about the handler's own timing), dates in
 * frames (origin 0), and an account with quote to spare and no XBT but what it buys.
 */
export const exchangeOptions = (options: RunOptions): Omit<VirtualExchangeOptions, 'scheduler'> => ({
  pairs: ['XBTUSD'],
  prices: { XBTUSD: options.price ?? '100' },
  balances: { USD: '1000000', XBT: options.xbt ?? '0' },
  tier: 'unlimited',
  originMs: 0,
  ...(options.latencyMs !== undefined ? { latencyMs: options.latencyMs } : {}),
});

/** The handler on the scenario exchange, its reports collected from frame 0. */
export function run(scheduler: TestScheduler, inputs: Inputs, options: RunOptions = {}): Run {
  const kit = createTestHandler({
    scheduler,
    ...exchangeOptions(options),
    config: options.config ?? baseConfig,
    log: quiet,
    runLimitMs: options.runLimitMs ?? 300_000,
    ...(options.journal ? { journal: options.journal } : {}),
    ...inputs,
  });
  options.before?.(kit.exchange);
  const reports: ExecutionReport[] = [];
  let completedAt: number | null = null;
  const subscription = kit.reports$.subscribe({
    next: (report) => reports.push(report),
    error: (error: unknown) => failures.push(error),
    complete: () => (completedAt = scheduler.now()),
  });
  if (options.endAt !== undefined) scheduler.schedule(() => subscription.unsubscribe(), options.endAt);
  return { handler: kit.handler, exchange: kit.exchange, reports, completedAt: () => completedAt };
}

/** The orders of this type the exchange accepted, in acceptance order. */
export const ordersOfType = (exchange: VirtualExchange, orderType: InspectedOrder['orderType']): InspectedOrder[] =>
  exchange.inspect.orders().filter((order) => order.orderType === orderType);

/** The frames requests to `method` were sent at. */
export const sentAt = (exchange: VirtualExchange, method: string): number[] => exchange.sent(method).map((request) => request.frame);
