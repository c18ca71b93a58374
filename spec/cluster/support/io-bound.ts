import { type Observable, defer, firstValueFrom, from } from 'rxjs';
import { type Lease } from '../../../src/cluster/lease';
import { type Journal } from '../../../src/model/journal';
import { type IdleClock } from '../../../src/time/idle-clock';

/**
 * A PostgreSQL call counted as loopback I/O on the idle clock, so virtual time stands still while the server
 * answers (a renewal and a lease TTL race in virtual time, never against the machine's speed).
 */
const io =
  (clock: IdleClock) =>
  <T>(call: () => Observable<T>): Observable<T> =>
    defer(() => from(clock.io(() => firstValueFrom(call()))));

/** The lease with every call counted as I/O on `clock`. */
export function ioLease(lease: Lease, clock: IdleClock): Lease {
  const run = io(clock);
  return {
    acquire: (now) => run(() => lease.acquire(now)),
    renew: (grant, now) => run(() => lease.renew(grant, now)),
    current: () => run(() => lease.current()),
    release: (grant) => run(() => lease.release(grant)),
    close: () => lease.close(),
  };
}

/** The journal with every call counted as I/O on `clock`. */
export function ioJournal(journal: Journal, clock: IdleClock): Journal {
  const run = io(clock);
  return {
    account: journal.account,
    recordSignal: (signal) => run(() => journal.recordSignal(signal)),
    recordIntent: (intent) => run(() => journal.recordIntent(intent)),
    recordTransition: (cid, event, at) => run(() => journal.recordTransition(cid, event, at)),
    recordCloseCommand: (command) => run(() => journal.recordCloseCommand(command)),
    recordHalt: (halt) => run(() => journal.recordHalt(halt)),
    recordRateCounters: (counters) => run(() => journal.recordRateCounters(counters)),
    signal: (signalId) => run(() => journal.signal(signalId)),
    order: (cid) => run(() => journal.order(cid)),
    orders: () => run(() => journal.orders()),
    unresolvedOrders: () => run(() => journal.unresolvedOrders()),
    closeCommands: () => run(() => journal.closeCommands()),
    lastHalt: () => run(() => journal.lastHalt()),
    lastRateCounters: () => run(() => journal.lastRateCounters()),
    close: () => journal.close(),
  };
}

/** Wraps `from(promise)` of an opening the same way: `clock.io(open)`. */
export const ioOpen = <T>(clock: IdleClock, open: () => Promise<T>): Promise<T> => clock.io(open);
