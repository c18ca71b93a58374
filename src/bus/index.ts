/** The bus: an account's inputs and reports over Redis Streams (design.md §10). */
export { type BusBackoff, type RedisBus, type RedisClient, type RedisBusOptions, busKeys, busOptionsProblem, openRedisBus, printableBusUrl } from './redis-bus';
export { type BusInput, type Delivery, busInputs$ } from './bus-inputs';
export { reportEntry, writeReports } from './write-reports';
export { publishLines } from './publish';
