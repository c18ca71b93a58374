import {
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  DisconnectsClientError,
  ErrorReply,
  ReconnectStrategyError,
  SocketClosedUnexpectedlyError,
  SocketTimeoutError,
  createClient,
} from 'redis';
import { type MonoTypeOperatorFunction, type Observable, type SchedulerLike, asyncScheduler, defer, lastValueFrom, retry, throwError, timer } from 'rxjs';
import { errorCode } from '../model/error-shape';
import { type BackoffPolicy, backoffDelay } from '../operators/retry-backoff';
import { printableUrl } from '../model/url';

/**
 * The bus between the handler and the rest of a trading system: Redis Streams, one pair of streams per account.
 *
 *   krx:<account>:in        signals, close commands and HALT lines, read through a consumer group
 *   krx:<account>:reports   execution reports, one entry per report
 *
 * An input entry has one field, `line`: the very JSON line stdin would carry. A report entry has `reportId` (the
 * report's stable id, so a consumer can drop a repeat) and `report` (the report as the CLI's JSON line, every
 * Decimal as a string). Delivery is at least once both ways: a write retried across a lost connection may land
 * twice; an input is acknowledged only when the caller says it is journaled, so a crash re-delivers it.
 *
 * Built on node-redis (`redis`): the client Redis itself maintains, with typed stream commands (XREADGROUP,
 * XAUTOCLAIM) and Promises, so no callback plumbing and no hand-made RESP.
 */

/** A node-redis client as `createClient` makes it. */
export type RedisClient = ReturnType<typeof createClient>;

/** How long to wait before trying Redis again: exponential, capped, jittered (see `backoffDelay`). */
export type BusBackoff = Pick<BackoffPolicy, 'initialDelayMs' | 'maxDelayMs' | 'multiplier' | 'jitter'>;

export interface RedisBusOptions {
  /** `redis://host:port[/db]` or `rediss://…`. A password in it is never printed. */
  readonly url: string;
  /**
   * The account the streams belong to, as the handler names it (e.g. `accountFingerprint(apiKey)`, never the key
   * itself): letters, digits and `_ . : -`, at most 128 characters.
   */
  readonly account: string;
  /** The consumer group reading the input stream (all handlers of one account share it). Default `krx-handlers`. */
  readonly group?: string;
  /** This reader's name in the group, stable across its restarts (host and pid, say) so it re-reads its own pending entries. */
  readonly consumer: string;
  /** A pending entry idle this long belongs to a dead consumer and is claimed. Default 30 000. */
  readonly claimIdleMs?: number;
  /** How long one blocking read waits for new entries; also how often idle entries are looked for. Default 2 000. */
  readonly blockMs?: number;
  /** Entries per read. Default 100. */
  readonly batchSize?: number;
  /** Between attempts after a lost connection. Default 50 ms doubling to 5 s, 20 % jitter. */
  readonly backoff?: BusBackoff;
  /** Clock of the backoff and of the claim cadence. */
  readonly scheduler?: SchedulerLike;
}

/** An open bus: the account's stream keys, the settings, and one connection for commands. */
export interface RedisBus {
  readonly account: string;
  readonly keys: { readonly inputs: string; readonly reports: string };
  readonly group: string;
  readonly consumer: string;
  readonly claimIdleMs: number;
  readonly blockMs: number;
  readonly batchSize: number;
  readonly backoff: BusBackoff;
  readonly scheduler: SchedulerLike;
  /**
   * The connection for XADD, XACK, XAUTOCLAIM: it reconnects by itself with the backoff, and commands sent while
   * it is away wait for it.
   */
  readonly commands: RedisClient;
  /** A new, unconnected client for blocking reads only; it does not reconnect by itself (its owner starts over). */
  readerClient(): RedisClient;
  /** Creates the consumer group at the start of the stream (and the stream) unless it exists. */
  ensureGroup(): Observable<void>;
  /** Closes the command connection; the readers close with their subscriptions. */
  close(): Observable<void>;
}

const DEFAULT_BACKOFF: BusBackoff = { initialDelayMs: 50, maxDelayMs: 5_000, multiplier: 2, jitter: 0.2 };
const NAME = /^[A-Za-z0-9_.:-]{1,128}$/;

/** The stream keys of an account. */
export const busKeys = (account: string): RedisBus['keys'] => ({ inputs: `krx:${account}:in`, reports: `krx:${account}:reports` });

/** The connection name of a consumer's read connection, as CLIENT LIST shows it. */
export const readerName = (options: Pick<RedisBusOptions, 'account' | 'consumer'>): string => `krx-reader:${options.account}:${options.consumer}`;

/** The connection name of a bus's command connection, as CLIENT LIST shows it. */
export const commandsName = (options: Pick<RedisBusOptions, 'account' | 'consumer'>): string => `krx-bus:${options.account}:${options.consumer}`;

/** Why a bus setting is unusable, naming it; `null` when all are fine. */
export function busOptionsProblem(options: RedisBusOptions): string | null {
  const url = urlProblem(options.url);
  if (url !== null) return url;
  for (const [key, value] of [['account', options.account], ['group', options.group], ['consumer', options.consumer]] as const) {
    if (value !== undefined && !NAME.test(value)) return `bus ${key} must be 1 to 128 letters, digits or _ . : -, got ${JSON.stringify(value.slice(0, 40))}`;
  }
  for (const [key, value, min] of [['claimIdleMs', options.claimIdleMs, 1], ['blockMs', options.blockMs, 1], ['batchSize', options.batchSize, 1]] as const) {
    if (value !== undefined && (!Number.isSafeInteger(value) || value < min)) return `bus ${key} must be a whole number of at least ${min}, got ${String(value)}`;
  }
  return null;
}

function urlProblem(raw: string): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'the bus URL must be a redis:// or rediss:// URL';
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') return `the bus URL must start with redis:// or rediss://, got ${url.protocol}//`;
  if (url.hostname === '') return 'the bus URL needs a host';
  return null;
}

/** The URL as it may be printed (`printableUrl`: without user name and password). */
export const printableBusUrl = (raw: string): string => printableUrl(raw);

const CONNECTION_ERRORS = [
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  DisconnectsClientError,
  ReconnectStrategyError,
  SocketClosedUnexpectedlyError,
  SocketTimeoutError,
] as const;

/**
 * Whether an error is the connection's (refused, lost, closed, timed out) or Redis still loading its data after
 * a restart, rather than Redis answering no or a fault here: only those are worth trying again, for as long as it
 * takes. An error reply (a wrong type) or a bug would fail the same way forever.
 */
export function isConnectionError(error: unknown): boolean {
  if (CONNECTION_ERRORS.some((kind) => error instanceof kind)) return true;
  if (error instanceof ErrorReply) return error.message.startsWith('LOADING');
  // A socket's own failure: ECONNREFUSED, ECONNRESET, EPIPE, ETIMEDOUT, EHOSTUNREACH…
  // Read by shape: Node builds these in its own realm, where a vm context's `instanceof Error` fails.
  const code = errorCode(error);
  return code !== undefined && /^E[A-Z]+$/.test(code);
}

/** A reply saying the consumer group is gone: Redis restarted without its data, or someone destroyed the group. */
export const isMissingGroup = (error: unknown): boolean => error instanceof ErrorReply && error.message.startsWith('NOGROUP');

/**
 * The source, tried again after each connection error (and each error `alsoRetry` accepts) with the bus's
 * backoff, for as long as it takes; the count of attempts starts over after a value.
 */
export function retryConnection<T>(bus: Pick<RedisBus, 'backoff' | 'scheduler'>, alsoRetry: (error: unknown) => boolean = () => false): MonoTypeOperatorFunction<T> {
  const policy: BackoffPolicy = { ...bus.backoff, maxAttempts: Infinity, shouldRetry: () => true };
  return retry<T>({
    resetOnSuccess: true,
    delay: (error: unknown, attempt: number) =>
      isConnectionError(error) || alsoRetry(error) ? timer(backoffDelay(policy, attempt), bus.scheduler) : throwError(() => error),
  });
}

/**
 * Opens the bus: connects the command connection and creates the consumer group if needed.
 *
 * The first connection must succeed (an unreachable Redis at start is a clear error, not a silent wait); after
 * that, a lost connection is re-made with the backoff, and what was in flight is tried again by its caller.
 *
 * @param options Where Redis is, whose streams, who reads, and the timings.
 * @returns The open bus; rejects naming the problem (never the URL's password).
 */
export async function openRedisBus(options: RedisBusOptions): Promise<RedisBus> {
  const problem = busOptionsProblem(options);
  if (problem !== null) throw new Error(problem);
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const policy: BackoffPolicy = { ...backoff, maxAttempts: Infinity, shouldRetry: () => true };
  let ready = false;
  const commands: RedisClient = createClient({
    url: options.url,
    name: commandsName(options),
    // Give up on the first connection (so opening fails fast), keep trying once it has worked.
    socket: { reconnectStrategy: (retries: number) => (ready ? backoffDelay(policy, retries + 1) : false) },
  });
  // Connection errors are handled where the commands fail; without a listener node-redis would throw them.
  commands.on('error', () => undefined);
  commands.on('ready', () => {
    ready = true;
  });
  try {
    await commands.connect();
  } catch (error: unknown) {
    commands.destroy();
    throw new Error(`cannot reach Redis at ${printableBusUrl(options.url)}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const keys = busKeys(options.account);
  const group = options.group ?? 'krx-handlers';
  const bus: RedisBus = {
    account: options.account,
    keys,
    group,
    consumer: options.consumer,
    claimIdleMs: options.claimIdleMs ?? 30_000,
    blockMs: options.blockMs ?? 2_000,
    batchSize: options.batchSize ?? 100,
    backoff,
    scheduler: options.scheduler ?? asyncScheduler,
    commands,
    readerClient: () => {
      // Named (CLIENT SETNAME), so an operator's CLIENT LIST shows whose blocked read a connection is.
      const reader: RedisClient = createClient({ url: options.url, name: readerName(options), socket: { reconnectStrategy: false } });
      reader.on('error', () => undefined);
      return reader;
    },
    ensureGroup: () =>
      defer(async () => {
        try {
          // From the start of the stream: lines published before the first handler ever ran are read too.
          await commands.xGroupCreate(keys.inputs, group, '0', { MKSTREAM: true });
        } catch (error: unknown) {
          if (!(error instanceof ErrorReply && error.message.startsWith('BUSYGROUP'))) throw error;
        }
      }),
    close: () =>
      defer(async () => {
        if (commands.isOpen) await commands.close();
      }),
  };
  try {
    await lastValueFrom(bus.ensureGroup().pipe(retryConnection(bus)), { defaultValue: undefined });
  } catch (error: unknown) {
    commands.destroy();
    throw error;
  }
  return bus;
}
