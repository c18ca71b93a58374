import { afterEach, beforeEach, expect, it } from '@jest/globals';
import { Decimal } from 'decimal.js';
import pg from 'pg';
import { NEVER, type Subscription, firstValueFrom } from 'rxjs';
import { type LeaderEvent, type LeadOptions, lead } from '../../src/cluster/leader';
import { type Lease, openPgLease } from '../../src/cluster/lease';
import { accountFingerprint } from '../../src/journal/account';
import { openPgJournal } from '../../src/journal/pg';
import { type Journal, JournalError, type SignalRecord } from '../../src/model/journal';
import { IdleClock, IDLE_CLOCK_ORIGIN } from '../../src/time/idle-clock';
import { ioJournal, ioLease } from './support/io-bound';
import { Relay } from './support/relay';
import { PG_URL, describeWithPostgres, uniqueName } from './support/services';

const ACCOUNT = accountFingerprint('API-KEY-OF-ACCOUNT-A');
const TTL_MS = 10_000;
const IN_FLIGHT_MS = 5_000;

const signal = (signalId: string): SignalRecord => ({
  signalId,
  receivedAt: IDLE_CLOCK_ORIGIN,
  pair: 'XXBTZUSD',
  side: 'buy',
  orderType: 'market',
  quantity: new Decimal('0.01'),
  limitPrice: null,
  stopLoss: null,
  takeProfit: null,
  timeoutMs: null,
});

/** An event as a line: the virtual time since the start, what happened, whose grant. */
const line = (event: LeaderEvent): string => {
  switch (event.kind) {
    case 'standby':
      return `standby ${event.heldBy === null ? `(${String(event.problem)})` : `${event.heldBy.holder}#${event.heldBy.epoch}`}`;
    case 'leading':
      return `leading ${event.grant.holder}#${event.grant.epoch} sendFrom ${event.sendFrom - IDLE_CLOCK_ORIGIN}`;
    case 'ready':
      return `ready ${event.grant.holder}#${event.grant.epoch}`;
    case 'lost':
      return `lost ${event.grant.holder}#${event.grant.epoch}: ${event.why}`;
  }
};

describeWithPostgres('lead: one leader per account under a fenced lease', () => {
  let schema: string;
  let clock: IdleClock;
  let relay: Relay | null = null;
  const leases: Lease[] = [];
  const running: Subscription[] = [];

  beforeEach(() => {
    schema = uniqueName('krx_test_leader');
    clock = new IdleClock();
  });
  afterEach(async () => {
    for (const each of running.splice(0)) each.unsubscribe();
    await relay?.stop();
    relay = null;
    await clock.settle();
    for (const each of leases.splice(0)) await firstValueFrom(each.close());
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
  });

  const openLease = async (holder: string, url = PG_URL): Promise<Lease> => {
    const lease = await openPgLease({ connectionString: url, schema, account: ACCOUNT, holder, ttlMs: TTL_MS });
    leases.push(lease);
    return ioLease(lease, clock);
  };

  const options = (lease: Lease, url = PG_URL): LeadOptions => ({
    lease,
    hold: { retryMs: 1_000, renewMs: 3_000 },
    inFlightMs: IN_FLIGHT_MS,
    patience: { backoff: { initialDelayMs: 100, maxDelayMs: 1_000, multiplier: 2, jitter: 0 } },
    openJournal: async (grant) =>
      ioJournal(await clock.io(() => openPgJournal({ connectionString: url, schema, account: ACCOUNT, epoch: grant.epoch })), clock),
  });

  /** Runs a would-be leader; its events as `time: line`, and the journal of its `ready`. */
  const follow = (leadOptions: LeadOptions): { readonly events: string[]; journal(): Journal } => {
    const events: string[] = [];
    let journal: Journal | null = null;
    running.push(
      lead(leadOptions, clock).subscribe({
        next: (event) => {
          if (event.kind === 'ready') journal = event.journal;
          events.push(`${clock.now() - IDLE_CLOCK_ORIGIN}: ${line(event)}`);
        },
        error: (error: unknown) => events.push(`error: ${String(error)}`),
        complete: () => events.push(`${clock.now() - IDLE_CLOCK_ORIGIN}: complete`),
      }),
    );
    return {
      events,
      journal: () => {
        if (journal === null) throw new Error('not ready');
        return journal;
      },
    };
  };

  it('makes exactly one of two contenders ready; the other stays a standby naming the holder', async () => {
    const a = follow(options(await openLease('a')));
    const b = follow(options(await openLease('b')));
    await clock.advance(3 * TTL_MS);
    const leader = a.events.some((e) => e.includes('ready')) ? a : b;
    const standby = leader === a ? b : a;
    const name = leader === a ? 'a' : 'b';
    // The first grant of an account waits for nothing: no handler held it before.
    expect(leader.events).toEqual([`0: leading ${name}#1 sendFrom 0`, `0: ready ${name}#1`]);
    expect(standby.events).toEqual([`0: standby ${name}#1`]);
  });

  it('a leader whose renewals stop is replaced after the TTL and the in-flight wait, under a higher epoch, and its writes are fenced', async () => {
    let partitioned = false;
    const aLease = await openLease('a');
    // A partition: a's renewals never reach the server (nor fail), so a still believes it leads.
    const a = follow(options({ ...aLease, renew: (grant, now) => (partitioned ? NEVER : aLease.renew(grant, now)) }));
    await clock.runUntil(() => a.events.length === 2, 1_000);
    const b = follow(options(await openLease('b')));
    await clock.advance(1_000);
    partitioned = true;
    await clock.runUntil(() => b.events.some((e) => e.includes('ready')), 3 * TTL_MS);
    expect(b.events).toEqual(['0: standby a#1', `${TTL_MS}: leading b#2 sendFrom ${TTL_MS + IN_FLIGHT_MS}`, `${TTL_MS + IN_FLIGHT_MS}: ready b#2`]);

    const refused = await clock.drive(firstValueFrom(a.journal().recordSignal(signal('s-by-a'))).catch((e: unknown) => e), 1_000);
    expect(refused instanceof JournalError && refused.kind).toBe('fenced');
    expect(a.events).toEqual([
      '0: leading a#1 sendFrom 0',
      '0: ready a#1',
      `${TTL_MS + IN_FLIGHT_MS}: lost a#1: a journal write was refused: journal recordSignal refused: this handler's lease (epoch 1) ` +
        "is no longer the account's (epoch 2): another handler has taken it over",
      `${TTL_MS + IN_FLIGHT_MS}: complete`,
    ]);
    expect((await clock.drive(firstValueFrom(b.journal().recordSignal(signal('s-by-b'))), 1_000)).kind).toBe('recorded');
    expect(await clock.drive(firstValueFrom(b.journal().signal('s-by-a')), 1_000)).toBeNull();
  });

  it('a leader whose lease was taken over learns it at its next renewal and says so', async () => {
    const aLease = await openLease('a');
    const a = follow(options(aLease));
    await clock.runUntil(() => a.events.length === 2, 1_000);
    // Another handler takes the lease as if it had lapsed (a clock far ahead): a's next renewal fails.
    const intruder = await openLease('c');
    await clock.drive(firstValueFrom(intruder.acquire(clock.now() + TTL_MS)), 1_000);
    await clock.runUntil(() => a.events.some((e) => e.includes('complete')), TTL_MS);
    expect(a.events.slice(2)).toEqual(['3000: lost a#1: the lease lapsed or another handler took it', '3000: complete']);
  });

  it('keeps the lease through a PostgreSQL outage shorter than the grant, its writes waiting; loses it once the grant runs out unrenewed', async () => {
    const cut = new Relay(PG_URL);
    relay = cut;
    await cut.start();
    const a = follow(options(await openLease('a', cut.url), cut.url));
    await clock.runUntil(() => a.events.length === 2, 1_000);
    await cut.stop();
    let answer: string | null = null;
    running.push(a.journal().recordSignal(signal('s-during-outage')).subscribe({ next: (admission) => (answer = `${clock.now() - IDLE_CLOCK_ORIGIN}: ${admission.kind}`) }));
    // The renewal at 3000 fails: the grant (until 10000) still runs, so a still leads; the write waits.
    await clock.advance(5_000);
    expect([a.events.length, answer]).toEqual([2, null]);
    await cut.start();
    await clock.runUntil(() => answer !== null, 5_000);
    // Retries at 100, 300, 700, 1500, 2500, 3500, 4500, 5500 ms: the first after the store is back goes through.
    expect(answer).toBe('5500: recorded');
    // The renewal at 6000 extends the grant to 16000; from 7000 the store is gone for good.
    await clock.advance(7_000 - (clock.now() - IDLE_CLOCK_ORIGIN));
    await cut.stop();
    await clock.runUntil(() => a.events.some((e) => e.includes('complete')), 3 * TTL_MS);
    expect(a.events.slice(2)).toEqual([expect.stringMatching(/^18000: lost a#1: the lease could not be renewed before it lapsed: journal lease renew failed: connect ECONNREFUSED /), '18000: complete']);
  });
});
