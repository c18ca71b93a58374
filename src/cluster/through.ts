import { type Observable, defer, firstValueFrom, from } from 'rxjs';
import { journalWith } from '../journal/decorate';
import { type Journal } from '../model/journal';
import { type Lease } from './lease';

/** Runs one unit of I/O (the idle clock's `io`: virtual time stands still until it settles). */
export type IoRunner = <T>(start: () => Promise<T>) => Promise<T>;

const through =
  (run: IoRunner) =>
  <T>(call: () => Observable<T>): Observable<T> =>
    defer(() => from(run(() => firstValueFrom(call()))));

/**
 * The lease with every call run through `run`: on a run's virtual clock (`IdleClock.io`), time does not move
 * while PostgreSQL answers, so a renewal never races the TTL against the machine's speed. Each call emits
 * once, as the port promises.
 */
export function leaseThrough(lease: Lease, run: IoRunner): Lease {
  const call = through(run);
  return {
    acquire: (now) => call(() => lease.acquire(now)),
    renew: (grant, now) => call(() => lease.renew(grant, now)),
    current: () => call(() => lease.current()),
    release: (grant) => call(() => lease.release(grant)),
    close: () => lease.close(),
  };
}

/** The journal with every call run through `run` (see `leaseThrough`). */
export function journalThrough(journal: Journal, run: IoRunner): Journal {
  const call = through(run);
  return journalWith(journal, {
    recordSignal: (signal) => call(() => journal.recordSignal(signal)),
    recordIntent: (intent) => call(() => journal.recordIntent(intent)),
    recordTransition: (cid, event, at) => call(() => journal.recordTransition(cid, event, at)),
    recordCloseCommand: (command) => call(() => journal.recordCloseCommand(command)),
    recordHalt: (halt) => call(() => journal.recordHalt(halt)),
    recordRateCounters: (counters) => call(() => journal.recordRateCounters(counters)),
    recordSignalOutcome: (outcome) => call(() => journal.recordSignalOutcome(outcome)),
    recordForeignOrder: (order) => call(() => journal.recordForeignOrder(order)),
    signal: (signalId) => call(() => journal.signal(signalId)),
    order: (cid) => call(() => journal.order(cid)),
    orders: () => call(() => journal.orders()),
    unresolvedOrders: () => call(() => journal.unresolvedOrders()),
    closeCommands: () => call(() => journal.closeCommands()),
    lastHalt: () => call(() => journal.lastHalt()),
    lastRateCounters: () => call(() => journal.lastRateCounters()),
    signalsWithoutOrder: () => call(() => journal.signalsWithoutOrder()),
  });
}
