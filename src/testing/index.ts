/**
 * kraken-rx-execution/testing: a kit for testing a strategy against the execution handler.
 *
 * - In virtual time (marble tests): `createTestHandler({ scheduler, ... })` wires the real handler to
 *   `createVirtualExchange`, the paper exchange's engine on the test's scheduler behind an in-process
 *   `KrakenTransport`; `statusLetters` turns reports into the README diagram's letters.
 * - End to end on the idle-advancing clock: `startTestRun({ ... })` starts the real paper exchange on 127.0.0.1
 *   and the handler over HTTP, with `waitFor` / `until` / `pass` in exchange time.
 */
export { type ConfigOverrides, testConfig } from './config';
export { type InProcessTransport, type InProcessTransportOptions, createInProcessTransport } from './in-process-transport';
export { seededRandom, seededUuids } from './seeded';
export { type LetterFilter, STATUS_LETTERS, statusLetters } from './status-letters';
export { type TestHandler, type TestHandlerOptions, createTestHandler } from './test-handler';
export { DEFAULT_LIMIT_MS, TestRun, type TestRunOptions, type WireRecord, closeAllTestRuns, startTestRun } from './test-run';
export { type PriceMove, type Refusal, type SentRequest, type VirtualExchange, type VirtualExchangeOptions, createVirtualExchange } from './virtual-exchange';
export { type FaultConfig, type FaultControl, type FaultKind, type FaultRates, FAULT_KINDS, type PaperInspector } from '../paper';
