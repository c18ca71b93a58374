import { type Logger } from '../../../src/streams/deps';
import { type TestRun, type TestRunOptions, closeAllTestRuns, startTestRun } from '../../../src/testing/test-run';
import { type TradeSignal } from '../../../src/model/signal';

/**
 * End-to-end harness: the testing kit's `TestRun` (src/testing/test-run.ts) — a paper exchange on 127.0.0.1 and the
 * execution handler talking to it over real HTTP, both on one IdleClock — with the handler's log on the console
 * when E2E_LOG=1. Every `ms` is clock (exchange) time.
 */

export { DEFAULT_LIMIT_MS, type WireRecord } from '../../../src/testing/test-run';

export type E2eOptions = Omit<TestRunOptions, 'log'>;

const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** Logs to the console when E2E_LOG=1 (for debugging a scenario), else nothing. */
const logger = (): Logger => (process.env['E2E_LOG'] === '1' ? console : quiet);

export type E2eRun = TestRun;
export const E2eRun = {
  start: (options: E2eOptions = {}): Promise<TestRun> => startTestRun({ ...options, log: logger() }),
};

/**
 * For `afterEach`: closes every run a test started, even when it failed half-way, then fails the test if a run
 * saw something no report shows (the handler's `reports$` erroring, a request leaving the paper exchange).
 */
export const closeAllRuns = (): Promise<void> => closeAllTestRuns();

/** A signal's fields where `undefined` means "leave this one out" (exactOptionalPropertyTypes forbids it in the type). */
export type SignalFields = { readonly [K in keyof TradeSignal]?: TradeSignal[K] | undefined };

/** `base` with `changes` applied; fields set to `undefined` are removed. */
export function signalWith(base: TradeSignal, changes: SignalFields = {}): TradeSignal {
  const merged: Record<string, unknown> = { ...base, ...changes };
  for (const key of Object.keys(merged)) if (merged[key] === undefined) delete merged[key];
  return merged as unknown as TradeSignal;
}
