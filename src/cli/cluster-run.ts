import { hostname } from 'node:os';
import { ReplaySubject, endWith, filter, firstValueFrom, ignoreElements, map, merge, share } from 'rxjs';
import { type LeaderEvent, lead } from '../cluster/leader';
import { type Lease, type LeaseGrant, openPgLease } from '../cluster/lease';
import { untilDeposed } from '../cluster/deposed-port';
import { type IoRunner, journalThrough, leaseThrough } from '../cluster/through';
import { loadConfig } from '../config/config';
import { openPgJournal } from '../journal/pg';
import { type Journal } from '../model/journal';
import { printableUrl } from '../model/url';
import { type RunArgs, UsageError } from './args';
import { EXIT_FAILURE, EXIT_OK } from './exit-codes';
import { runHandler } from './handler-run';
import { signalsSourceProblem } from './input';
import { type CliIo, runNow } from './io';
import { createCliLogger } from './logging';
import { configOverrides } from './run-command';
import { openVenue } from './venue';

/** How long a grant lasts unrenewed by default (`--lease-ttl`). */
export const DEFAULT_LEASE_TTL_MS = 15_000;

/** The lease's timings from its TTL: renewed three times per TTL (one slow renewal does not lose it), tried every second at most. */
export const leaseTimings = (ttlMs: number): { readonly ttlMs: number; readonly renewMs: number; readonly retryMs: number } => ({
  ttlMs,
  renewMs: Math.max(1, Math.floor(ttlMs / 3)),
  retryMs: Math.max(1, Math.min(1_000, Math.floor(ttlMs / 5))),
});

/** The account's schema in PostgreSQL: named from the account fingerprint (never the key), one per account. */
export function clusterSchema(account: string): string {
  return `krx_${account.replace(/^key-sha256:/, '').replace(/[^a-z0-9]/g, '_')}`;
}

/** How the wait for the lease ended. */
type Start =
  | { readonly kind: 'ready'; readonly grant: LeaseGrant; readonly journal: Journal }
  | { readonly kind: 'stopped'; readonly signal: string }
  | { readonly kind: 'ended' };

/**
 * Who this run is in the lease row: `KRX_CLUSTER_NODE` when set (a name an operator chose), else host and pid,
 * so a person reading "held by …" knows which process.
 */
const holderName = (env: CliIo['env']): string => env['KRX_CLUSTER_NODE'] ?? `${hostname()}:${process.pid}`;

const heldBy = (grant: LeaseGrant | null, now: number): string =>
  grant === null ? 'nobody yet' : `${grant.holder} (epoch ${grant.epoch}, ${grant.expiresAt > now ? `until ${new Date(grant.expiresAt).toISOString()}` : 'lapsed'})`;

/**
 * `kraken-rx run --cluster postgres://…`: one handler per API key across machines. The run takes the account's
 * lease in PostgreSQL (or waits as a standby, saying who holds it), journals there under the lease's epoch, waits
 * out the longest AddOrder the previous holder could still have in flight (`entry.deadlineMs` plus the request
 * timeout), then runs as `kraken-rx run` does: reconcile, then the input (with `--bus`, the account's stream, read
 * only once this run leads). Losing the lease mid-run is logged at
 * error level with the reason; nothing more is sent from that moment (every send is journaled first, and the
 * journal refuses a deposed handler), the run stops at once and exits 1. A clean end releases the lease, so a
 * standby takes over without waiting for the TTL.
 *
 * @param args The run's flags, `cluster` set.
 * @param io The process (or a test's stand-in).
 * @returns The exit code.
 */
export async function runClustered(args: RunArgs & { readonly cluster: string }, io: CliIo): Promise<number> {
  const unreadable = args.bus === undefined ? signalsSourceProblem(args.signals) : null;
  if (unreadable !== null) throw new UsageError(`--signals: ${unreadable}`, 'run', false);
  const config = loadConfig(args.config, configOverrides(args));
  if (config.mode === 'paper') {
    throw new UsageError(
      '--cluster: the embedded paper exchange is a new account every run, so there is nothing to share; ' +
        'run `kraken-rx paper` and point every `kraken-rx run --cluster … --url` at it',
      'run',
    );
  }
  if (config.exchange.validateOnly) throw new UsageError('--cluster: a validate-only run places nothing, so it has no lease to hold', 'run');
  const log = createCliLogger(config.logLevel, io.stderr, runNow(io));
  const clock = io.clock;
  const run: IoRunner = clock ? (start) => clock.io(start) : (start) => start();
  const venue = await openVenue(config, { env: io.env, log, ...(clock ? { clock } : {}) });
  const schema = clusterSchema(venue.account);
  const holder = holderName(io.env);
  const timings = leaseTimings(args.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS);
  const location = { connectionString: args.cluster, schema, account: venue.account };
  let opened: Lease | null = null;
  let deposed: string | null = null;
  try {
    const store = await run(() => openPgLease({ ...location, holder, ttlMs: timings.ttlMs }));
    opened = store;
    const lease = leaseThrough(store, run);
    log.info(`cluster: ${printableUrl(args.cluster)} schema ${schema} (account ${venue.account}), this run is ${holder}`);
    const now = runNow(io);
    const life$ = lead(
      {
        lease,
        hold: { retryMs: timings.retryMs, renewMs: timings.renewMs },
        inFlightMs: config.entry.deadlineMs + config.exchange.requestTimeoutMs,
        patience: {
          backoff: { initialDelayMs: config.retry.initialDelayMs, maxDelayMs: config.retry.maxDelayMs, multiplier: config.retry.multiplier, jitter: config.retry.jitter },
          onRetry: (what, error, retry) => {
            if (retry === 1) log.warn(`journal: PostgreSQL does not answer (${what}: ${error.message}); nothing is sent until it does`);
          },
        },
        openJournal: async (grant) => journalThrough(await run(() => openPgJournal({ ...location, epoch: grant.epoch })), run),
      },
      ...(clock ? [clock] : []),
      // Replayed: the wait below and the log lines see the same events, whichever subscribes first.
    ).pipe(share({ connector: () => new ReplaySubject<LeaderEvent>(), resetOnError: false, resetOnComplete: false, resetOnRefCountZero: true }));
    // Replayed: a loss between `ready` and the session's start still stops the session.
    const stop = new ReplaySubject<string>();
    const onEvent = (event: LeaderEvent): void => {
      switch (event.kind) {
        case 'standby':
          log.info(
            event.problem === null
              ? `standby: waiting for the lease of account ${venue.account} held by ${heldBy(event.heldBy, now())}`
              : `standby: the lease of account ${venue.account} cannot be read (${event.problem}); trying again`,
          );
          return;
        case 'leading': {
          const wait = event.sendFrom - now();
          log.info(
            `leader: took the lease of account ${venue.account} (epoch ${event.grant.epoch})` +
              (wait > 0 ? `; waiting ${wait} ms for AddOrders the previous holder may still have in flight` : ''),
          );
          return;
        }
        case 'ready':
          return;
        case 'lost':
          log.error(`lease lost: ${event.why}; stopping at once (nothing more is sent)`);
          deposed = event.why;
          // Two stop requests: the session stops without waiting for in-flight work (a deposed run must not
          // finish anything), and says what may still be live.
          stop.next('lease lost');
          stop.next('lease lost');
          return;
      }
    };
    const watching = life$.subscribe({ next: onEvent, error: () => undefined });
    try {
      const start = await firstValueFrom(
        merge(
          life$.pipe(
            filter((event): event is Extract<LeaderEvent, { kind: 'ready' }> => event.kind === 'ready'),
            map((event): Start => ({ kind: 'ready', grant: event.grant, journal: event.journal })),
          ),
          io.stopRequests.pipe(map((signal): Start => ({ kind: 'stopped', signal }))),
          // Leadership lost before it was ready: said by `onEvent`; an error of the lead is thrown from here.
          life$.pipe(ignoreElements(), endWith<Start>({ kind: 'ended' })),
        ),
      );
      if (start.kind === 'stopped') {
        log.info(`${start.signal}: stopping (never led: nothing was sent)`);
        return EXIT_OK;
      }
      if (start.kind === 'ended') return EXIT_FAILURE;
      log.info(`leader: journal in PostgreSQL under epoch ${start.grant.epoch}; reconciling, then reading the input`);
      // With --bus: the stream is opened only now, so a standby neither reads nor acknowledges it.
      const { result, busFailed } = await runHandler({
        args,
        io,
        config,
        log,
        venue,
        journal: start.journal,
        port: untilDeposed(venue.port, () => deposed),
        alsoStop$: stop,
      });
      if (deposed !== null || busFailed) return EXIT_FAILURE;
      // Leadership ends here (the journal is closed), then the lease is given up: a clean end hands over at once,
      // a standby need not wait for the TTL (it still waits out the in-flight AddOrders).
      watching.unsubscribe();
      await firstValueFrom(lease.release(start.grant)).catch((error: unknown) => log.warn(`could not release the lease: ${error instanceof Error ? error.message : String(error)}`));
      return result.exitCode;
    } finally {
      watching.unsubscribe();
    }
  } finally {
    try {
      if (opened !== null) await firstValueFrom(opened.close()).catch(() => undefined);
    } finally {
      await venue.close();
    }
  }
}
