import pg from 'pg';
import {
  type Observable,
  type SchedulerLike,
  asyncScheduler,
  catchError,
  concat,
  concatMap,
  defer,
  distinctUntilChanged,
  exhaustMap,
  filter,
  first,
  from,
  map,
  of,
  scan,
  takeWhile,
  throwError,
  timer,
} from 'rxjs';
import { InFlight, type PgLocation, asJournalError, inTransaction, preparePgSchema, quotedSchema } from '../journal/pg';

/** A lease as granted: who holds it, under which epoch (the fencing token), until when (epoch ms). */
export interface LeaseGrant {
  readonly holder: string;
  readonly epoch: number;
  readonly expiresAt: number;
}

/**
 * The lease port: one handler per account. Times are passed in (from the handler's scheduler) and compared with
 * the lease's stored expiry in the database, so a test decides what time it is. Each method is a cold Observable
 * that emits once and completes, or errors with a `JournalError`.
 */
export interface Lease {
  /** Takes the lease if it is free or lapsed at `now`: a new, higher epoch on every acquisition. `null`: held by another. */
  acquire(now: number): Observable<LeaseGrant | null>;
  /** Extends the grant to `now + ttl`; `null` if it lapsed at `now` or another acquisition has replaced it. */
  renew(grant: LeaseGrant, now: number): Observable<LeaseGrant | null>;
  /** The grant as it stands in the store (whoever holds it, lapsed or not); `null` before the first acquisition. */
  current(): Observable<LeaseGrant | null>;
  /** Gives the lease up at once (the epoch stays: the next acquisition still gets a higher one). */
  release(grant: LeaseGrant): Observable<void>;
  close(): Observable<void>;
}

export interface PgLeaseOptions extends PgLocation {
  /** Names this handler in the lease row (host and pid, say); never a secret. */
  readonly holder: string;
  /** How long a grant lasts without a renewal. */
  readonly ttlMs: number;
}

interface LeaseRow {
  readonly holder: string;
  readonly epoch: string;
  readonly expires_at: string;
}

const grantOf = (row: LeaseRow | undefined): LeaseGrant | null =>
  row === undefined ? null : { holder: row.holder, epoch: Number(row.epoch), expiresAt: Number(row.expires_at) };

/**
 * The lease in PostgreSQL: the `lease` row of the account's journal schema, the very row every journal write
 * locks to check its epoch. An acquisition is one upsert that only takes a free or lapsed lease and always
 * raises the epoch; it waits for a journal write in progress (the row lock), so once it has returned, the
 * deposed holder's next write fails.
 *
 * @param options Where, which account, who, how long a grant lasts.
 * @returns The lease port; the schema is created or checked on open (rejects with a `JournalError`).
 */
export async function openPgLease(options: PgLeaseOptions): Promise<Lease> {
  const s = quotedSchema(options.schema);
  const pool = new pg.Pool({ connectionString: options.connectionString, max: 1 });
  pool.on('error', () => undefined);
  try {
    await inTransaction(pool, 'BEGIN', (client) => preparePgSchema(client, options));
  } catch (error: unknown) {
    await pool.end().catch(() => undefined);
    throw asJournalError('lease open', error);
  }
  let open = true;
  const inFlight = new InFlight();
  const call = <T>(what: string, work: () => Promise<T>): Observable<T> =>
    defer(() => {
      if (!open) throw asJournalError(what, new Error(`the lease of ${options.schema} is closed`));
      return from(inFlight.track(work()));
    }).pipe(catchError((error: unknown) => throwError(() => asJournalError(`lease ${what}`, error))));

  return {
    acquire: (now) =>
      call('acquire', async () =>
        grantOf(
          (
            await pool.query<LeaseRow>(
              `INSERT INTO ${s}.lease AS l (account, holder, epoch, expires_at) VALUES ($1, $2, 1, $3::bigint + $4::bigint)
               ON CONFLICT (account) DO UPDATE SET holder = EXCLUDED.holder, epoch = l.epoch + 1, expires_at = EXCLUDED.expires_at
               WHERE l.expires_at <= $3::bigint
               RETURNING holder, epoch, expires_at`,
              [options.account, options.holder, now, options.ttlMs],
            )
          ).rows[0],
        ),
      ),
    renew: (grant, now) =>
      call('renew', async () =>
        grantOf(
          (
            await pool.query<LeaseRow>(
              `UPDATE ${s}.lease SET expires_at = $4::bigint + $5::bigint WHERE account = $1 AND holder = $2 AND epoch = $3 AND expires_at > $4::bigint
               RETURNING holder, epoch, expires_at`,
              [options.account, grant.holder, grant.epoch, now, options.ttlMs],
            )
          ).rows[0],
        ),
      ),
    current: () =>
      call('current', async () =>
        grantOf((await pool.query<LeaseRow>(`SELECT holder, epoch, expires_at FROM ${s}.lease WHERE account = $1`, [options.account])).rows[0]),
      ),
    release: (grant) =>
      call('release', async () => {
        await pool.query(`UPDATE ${s}.lease SET expires_at = 0 WHERE account = $1 AND holder = $2 AND epoch = $3`, [options.account, grant.holder, grant.epoch]);
      }),
    close: () =>
      defer(async () => {
        if (!open) return;
        open = false;
        // Calls under way finish first: ending the pool beneath a query can leave that query hanging for ever.
        await inFlight.drained();
        await pool.end();
      }).pipe(catchError((error: unknown) => throwError(() => asJournalError('lease close', error)))),
  };
}

/** What holding a lease looks like over time. */
export type LeadershipEvent =
  /**
   * Another handler holds the lease (as last read; `null`: read before any grant), or the store did not answer
   * the try (`problem`): said once per holder and epoch, or per problem.
   */
  | { readonly kind: 'standby'; readonly heldBy: LeaseGrant | null; readonly problem: string | null }
  | { readonly kind: 'leading'; readonly grant: LeaseGrant }
  | { readonly kind: 'lost'; readonly grant: LeaseGrant; readonly why: string };

export interface HoldLeaseOptions {
  /** How often a standby tries to take the lease. */
  readonly retryMs: number;
  /** How often the leader renews: well below the lease's TTL, so one slow renewal does not lose it. */
  readonly renewMs: number;
}

/** One renewal's answer: extended, refused (lapsed or replaced), or the store did not answer. */
type Renewal = { readonly kind: 'renewed'; readonly grant: LeaseGrant } | { readonly kind: 'refused' } | { readonly kind: 'failed'; readonly error: unknown };

/** What the leader knows of its lease: until when it surely holds it, and why it no longer does (`null`: it does). */
interface Held {
  readonly expiresAt: number;
  readonly why: string | null;
}

/**
 * One renewal folded into what the leader knows. A store that does not answer is not a lost lease while the
 * last grant runs (nobody else can take it before it lapses, and every write is fenced by the epoch anyway);
 * once the grant has run out unrenewed, it is lost.
 */
function holding(held: Held, renewal: Renewal, now: number): Held {
  switch (renewal.kind) {
    case 'renewed':
      return { expiresAt: renewal.grant.expiresAt, why: null };
    case 'refused':
      return { ...held, why: 'the lease lapsed or another handler took it' };
    case 'failed':
      return now < held.expiresAt
        ? held
        : { ...held, why: `the lease could not be renewed before it lapsed: ${renewal.error instanceof Error ? renewal.error.message : String(renewal.error)}` };
  }
}

/** One try for the lease: granted, or who holds it. */
type Try =
  | { readonly kind: 'granted'; readonly grant: LeaseGrant }
  | { readonly kind: 'held'; readonly heldBy: LeaseGrant | null }
  | { readonly kind: 'failed'; readonly problem: string };

const tryKey = (attempt: Try): string => {
  switch (attempt.kind) {
    case 'granted':
      return 'granted';
    case 'held':
      return attempt.heldBy === null ? 'held' : `held ${attempt.heldBy.holder}#${attempt.heldBy.epoch}`;
    case 'failed':
      return `failed ${attempt.problem}`;
  }
};

/**
 * Waits for the lease, holds it, and says when it is lost: a standby becomes the leader.
 *
 * acquire:  -n------n------g                     (n: held by another, g: granted)
 * renew:                    ------r------r------x  (x: lapsed or replaced, or the store failing past the grant's expiry)
 *   holdLease(lease, { retryMs, renewMs })
 * result:   -S-------------L--------------------(X|)   (S: standby, L: leading, X: lost)
 *
 * `standby` names the holder as read after a refused try, once per holder and epoch (a log line for a
 * waiting standby, not one per try), or the problem when the store did not answer (tried again next period). Completes after `lost`: the caller stops sending at once. A renewal the store
 * does not answer is tried again at the next period while the last grant runs (an outage of PostgreSQL shorter
 * than the TTL keeps the leader, whose writes wait for the store meanwhile); past the grant's expiry it is lost
 * (fail safe). Never errors. Unsubscribing does not release the lease (it lapses at its TTL; call `release` for a clean hand-over).
 *
 * @param lease The lease port.
 * @param options Retry and renewal periods.
 * @param scheduler Times the tries and renewals, and gives `now`.
 */
export function holdLease(lease: Lease, options: HoldLeaseOptions, scheduler: SchedulerLike = asyncScheduler): Observable<LeadershipEvent> {
  const tries$ = timer(0, options.retryMs, scheduler).pipe(
    // exhaustMap: a try still in flight makes the next tick wait, never a second acquisition beside it.
    exhaustMap(() =>
      lease
        .acquire(scheduler.now())
        .pipe(
          concatMap((grant): Observable<Try> =>
            grant === null ? lease.current().pipe(map((heldBy): Try => ({ kind: 'held', heldBy }))) : of<Try>({ kind: 'granted', grant }),
          ),
          // The store not answering is one more try that failed: a standby waits for it as for the holder.
          catchError((error: unknown) => of<Try>({ kind: 'failed', problem: error instanceof Error ? error.message : String(error) })),
        ),
    ),
    takeWhile((attempt) => attempt.kind !== 'granted', true),
    distinctUntilChanged((a, b) => tryKey(a) === tryKey(b)),
  );

  const leading = (granted: LeaseGrant): Observable<LeadershipEvent> => {
    // A renewal keeps the holder and the epoch, so the grant as first given names it for every renewal.
    const renewals$ = timer(options.renewMs, options.renewMs, scheduler).pipe(
      exhaustMap(() =>
        lease.renew(granted, scheduler.now()).pipe(
          map((renewed): Renewal => (renewed === null ? { kind: 'refused' } : { kind: 'renewed', grant: renewed })),
          catchError((error: unknown) => of<Renewal>({ kind: 'failed', error })),
        ),
      ),
      scan((held: Held, renewal: Renewal): Held => holding(held, renewal, scheduler.now()), { expiresAt: granted.expiresAt, why: null }),
      map((held) => held.why),
      filter((why): why is string => why !== null),
      first(),
      map((why): LeadershipEvent => ({ kind: 'lost', grant: granted, why })),
    );
    return concat(of<LeadershipEvent>({ kind: 'leading', grant: granted }), renewals$);
  };

  return tries$.pipe(
    // concatMap: the grant is the last try, so its renewals follow the standby lines and nothing runs beside them.
    concatMap((attempt): Observable<LeadershipEvent> => {
      switch (attempt.kind) {
        case 'granted':
          return leading(attempt.grant);
        case 'held':
          return of({ kind: 'standby', heldBy: attempt.heldBy, problem: null });
        case 'failed':
          return of({ kind: 'standby', heldBy: null, problem: attempt.problem });
      }
    }),
  );
}
