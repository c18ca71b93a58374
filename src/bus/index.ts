/** The bus: an account's inputs and reports over Redis Streams (design.md §10). */
export { type BusBackoff, type RedisBus, type RedisClient, type RedisBusOptions, busKeys, busOptionsProblem, openRedisBus, printableBusUrl } from './redis-bus';
export { type BusInput, type Delivery, busInputs$ } from './bus-inputs';
export { appendSkipped, reportEntry, skippedEntry, writeReports } from './write-reports';
export { type AnsweringJournal, type JournalAnswer, ackOnJournal } from './ack-on-journal';
export { AckLedger, type AckLedgerDeps, type LedgerCounts, type RunInput } from './ack-ledger';
export { publishLines } from './publish';
