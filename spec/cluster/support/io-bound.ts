import { type Lease } from '../../../src/cluster/lease';
import { journalThrough, leaseThrough } from '../../../src/cluster/through';
import { type Journal } from '../../../src/model/journal';
import { type IdleClock } from '../../../src/time/idle-clock';

/**
 * PostgreSQL calls counted as loopback I/O on the idle clock, so virtual time stands still while the server
 * answers (a renewal and a lease TTL race in virtual time, never against the machine's speed).
 */
export const ioLease = (lease: Lease, clock: IdleClock): Lease => leaseThrough(lease, (start) => clock.io(start));

/** The journal with every call counted as I/O on `clock`. */
export const ioJournal = (journal: Journal, clock: IdleClock): Journal => journalThrough(journal, (start) => clock.io(start));
