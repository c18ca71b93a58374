import { type Observable, type SchedulerLike, Subject, asyncScheduler, defer, map, shareReplay, switchMap, takeUntil, tap } from 'rxjs';
import { clientRateBudget, krakenCostModel } from '../kraken/budget';
import { Credentials } from '../kraken/credentials';
import { type KrakenExchange, createKrakenExchange } from '../kraken/exchange';
import { KRAKEN_WS_PRIVATE_URL, KRAKEN_WS_PUBLIC_URL, KrakenWsFeed } from '../kraken/ws-feed';
import { type WsTrading, withWsOrders } from '../kraken/ws-orders';
import { WsTokenSource } from '../kraken/ws-token';
import { type ExecutionFeed } from '../model/feed';
import { type PairBook } from '../model/pair';
import { type KrakenClientOptions } from '../kraken/client';
import { fetchThrough } from '../kraken/transport';
import { accountFingerprint } from '../journal/account';
import { type IdleClock } from '../time/idle-clock';
import { type CostModel, type RateBudget } from '../model/budget';
import { type ExecutionConfig } from '../model/config';
import { type ExchangePort } from '../model/port';
import { type PaperExchange, type PaperOptions, startPaperExchange } from '../paper';
import { type Logger } from '../streams/deps';
import { PAPER_PRICE_STEP_MS } from './paper-command';

/** The exchange a run talks to, over real HTTP in every mode. */
export interface Venue {
  readonly port: ExchangePort;
  readonly budget: RateBudget;
  readonly costs: CostModel;
  /** The embedded paper exchange, when the run started one. */
  readonly paper: PaperExchange | null;
  /** The WebSocket v2 feed (`HandlerDeps.feed`), or `null` when the run polls REST only (`feed.mode: rest`, no URL). */
  readonly feed: ExecutionFeed | null;
  /** The fingerprint of the API key in use (`accountFingerprint`): whose journal this run may open. Never the key. */
  readonly account: string;
  close(): Promise<void>;
}

export interface VenueOptions {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly log: Logger;
  /** Extra options for an embedded paper exchange (the demo's clock, balances, no random walk). */
  readonly paper?: Partial<PaperOptions>;
  /** The run's virtual clock, if any (`CliIo.clock`): the paper exchange and the client run on it. */
  readonly clock?: IdleClock;
  /** The handler's clock, which the feed's watchdog, backoff and request timeouts run on; default `clock`, else real time. */
  readonly scheduler?: SchedulerLike;
  /**
   * The feed's watchdog (ms on `scheduler`; default 10 000). The demo's clock runs faster than the paper exchange's
   * heartbeat timers, so it allows more.
   */
  readonly feedWatchdogMs?: number;
}

/** Where the feed connects: Kraken's two endpoints, or one URL serving both (a paper exchange's `/v2`). */
interface FeedUrls {
  readonly privateUrl: string;
  readonly publicUrl: string;
}

/** Kraken's REST base URL, the one whose WebSocket endpoints are known (kraken-api.md §8.1). */
const KRAKEN_REST_URL = 'https://api.kraken.com';

/**
 * The feed's URLs in live mode: `KRAKEN_WS_AUTH_URL` / `KRAKEN_WS_URL` from the environment when set (one of them
 * serves both), else Kraken's own when `exchange.url` is Kraken's, else none: another exchange's WebSocket
 * endpoint is not guessed.
 */
function liveFeedUrls(config: ExecutionConfig, env: VenueOptions['env']): FeedUrls | null {
  for (const name of ['KRAKEN_WS_AUTH_URL', 'KRAKEN_WS_URL']) {
    const url = env[name];
    if (url !== undefined && !/^wss?:\/\/[^\s@/]+(\/\S*)?$/.test(url)) throw new Error(`${name}: expected a ws:// or wss:// URL without user name or password`);
  }
  const privateUrl = env['KRAKEN_WS_AUTH_URL'] ?? env['KRAKEN_WS_URL'];
  const publicUrl = env['KRAKEN_WS_URL'] ?? env['KRAKEN_WS_AUTH_URL'];
  if (privateUrl !== undefined && publicUrl !== undefined) return { privateUrl, publicUrl };
  return config.exchange.url === KRAKEN_REST_URL ? { privateUrl: KRAKEN_WS_PRIVATE_URL, publicUrl: KRAKEN_WS_PUBLIC_URL } : null;
}

/**
 * The Kraken WebSocket v2 feed for a run, built once the pair list is in (on first use: the start does not wait
 * for it, and a failed load is tried again by the next subscriber). Its token is a fresh GetWebSocketsToken per
 * connection, through the client and the gate of the run that listens (`guardCalls`). Everything it opens ends
 * at `close()` at the latest.
 */
function openFeed(exchange: KrakenExchange, urls: FeedUrls, options: VenueOptions): OpenedFeed {
  const closed$ = new Subject<void>();
  let built: KrakenWsFeed | null = null;
  const client = exchange.client;
  const scheduler = options.scheduler ?? options.clock ?? asyncScheduler;
  // Built now, so that a run can install its gate (`guardCalls`) before the feed itself is built.
  const tokens = new WsTokenSource(() => client.getWebSocketsToken().pipe(map((t) => t.token)));
  const built$: Observable<KrakenWsFeed> = defer(() => exchange.pairs()).pipe(
    map(
      (pairs: PairBook) =>
        new KrakenWsFeed({
          ...urls,
          token: tokens.token,
          pairs,
          ...(options.clock ? { links: options.clock.links } : {}),
          scheduler,
          ...(options.feedWatchdogMs !== undefined ? { watchdogMs: options.feedWatchdogMs } : {}),
        }),
    ),
    tap((f) => (built = f)),
    shareReplay({ bufferSize: 1, refCount: false }),
  );
  const through = <T>(use: (feed: KrakenWsFeed) => Observable<T>): Observable<T> => built$.pipe(switchMap(use), takeUntil(closed$));
  const feed: ExecutionFeed = {
    executions: () => through((f) => f.executions()),
    quotes: (pairs) => through((f) => f.quotes(pairs)),
    placeOrder: (request) => through((f) => f.placeOrder(request)),
    cancelOrder: (ref) => through((f) => f.cancelOrder(ref)),
    guardCalls: (gate) => tokens.guardCalls(gate),
  };
  // Placements and cancels over the socket while it is up (design.md §9); `closed` ends with the feed.
  let closed = false;
  const trading: WsTrading = {
    get tradingUp() {
      return !closed && (built?.tradingUp ?? false);
    },
    placeOrder: feed.placeOrder,
    cancelOrder: feed.cancelOrder,
  };
  return {
    feed,
    trading,
    close: () => {
      closed = true;
      closed$.next();
      closed$.complete();
    },
  };
}

interface OpenedFeed {
  readonly feed: ExecutionFeed | null;
  /** The socket's trading side, when there is a socket. */
  readonly trading?: WsTrading;
  readonly close: () => void;
}

/** The REST port, with placements and cancels over the socket while it is up when the run has one. */
const portWith = (rest: ExchangePort, feed: OpenedFeed): ExchangePort => (feed.trading ? withWsOrders(rest, feed.trading) : rest);

/** The feed the config asks for (`feed.mode` absent or `websocket`), with the start-up line that says which. */
function chooseFeed(
  config: ExecutionConfig,
  exchange: KrakenExchange,
  urls: FeedUrls | null,
  options: VenueOptions,
): OpenedFeed {
  const none: OpenedFeed = { feed: null, close: () => undefined };
  if (config.feed?.mode === 'rest') {
    options.log.info('feed: REST polling (config feed.mode is rest)');
    return none;
  }
  if (urls === null) {
    options.log.info(`feed: REST polling (no WebSocket URL known for ${config.exchange.url}; set KRAKEN_WS_URL to use one)`);
    return none;
  }
  options.log.info(`feed: WebSocket v2 ${urls.privateUrl} for fills, prices, placements and cancels, REST polling as the safety net`);
  return openFeed(exchange, urls, options);
}

/** The client options that put requests, timeouts and deadline checks on the run's virtual clock. */
function clientOnClock(clock: IdleClock | undefined): Partial<KrakenClientOptions> {
  if (!clock) return {};
  return { clock: () => clock.now(), timers: clock.timers, fetch: fetchThrough((start, signal) => clock.io(start, signal)) };
}

/**
 * Opens the run's exchange. Mode `paper`: starts the embedded paper exchange on 127.0.0.1 and uses its fresh
 * credentials. Mode `live` (also `--url`): `exchange.url` with `KRAKEN_API_KEY` / `KRAKEN_API_SECRET` from the
 * environment — a missing or malformed one stops the start with the variable's name, never its value.
 */
export async function openVenue(config: ExecutionConfig, options: VenueOptions): Promise<Venue> {
  const { log } = options;
  if (config.mode === 'paper') {
    const paper = await startPaperExchange({
      port: config.paper.port,
      seed: config.paper.seed,
      tier: config.paper.tier,
      autoTick: PAPER_PRICE_STEP_MS,
      // The socket's frames are counted by the clock, and its heartbeats run on plain timers (never parking a request).
      ...(options.clock
        ? { clock: () => (options.clock as IdleClock).now(), timers: options.clock.waitTimers, wsTimers: options.clock.timers, links: options.clock.links }
        : {}),
      ...options.paper,
    });
    log.info(`paper exchange started on ${paper.url} (tier ${paper.tier})`);
    const port = createKrakenExchange({
      url: paper.url,
      credentials: new Credentials(paper.apiKey, paper.apiSecret),
      timeoutMs: config.exchange.requestTimeoutMs,
      // The demo runs the paper exchange on an accelerated clock: deadlines are checked on that clock too.
      ...(options.paper?.clock ? { clock: options.paper.clock } : {}),
      ...clientOnClock(options.clock),
    });
    const feed = chooseFeed(config, port, { privateUrl: paper.wsUrl, publicUrl: paper.wsUrl }, options);
    return {
      port: portWith(port, feed),
      budget: clientRateBudget(config.paper.tier),
      costs: krakenCostModel,
      paper,
      feed: feed.feed,
      account: accountFingerprint(paper.apiKey),
      close: () => {
        feed.close();
        return paper.close();
      },
    };
  }
  let credentials: Credentials;
  try {
    credentials = Credentials.fromEnv(options.env);
  } catch (e) {
    throw new Error(
      `live mode needs credentials: ${e instanceof Error ? e.message : 'invalid credentials'}. ` +
        'Set KRAKEN_API_KEY and KRAKEN_API_SECRET (for a `kraken-rx paper` exchange: its apiKey and apiSecret), or use --paper.',
    );
  }
  log.info(`exchange ${config.exchange.url} with key ${String(credentials)}${config.exchange.validateOnly ? ' (validate only: nothing is placed)' : ''}`);
  const urls = config.feed?.mode === 'rest' ? null : liveFeedUrls(config, options.env);
  const port = createKrakenExchange({ url: config.exchange.url, credentials, timeoutMs: config.exchange.requestTimeoutMs, ...clientOnClock(options.clock) });
  const feed = chooseFeed(config, port, urls, options);
  return {
    port: portWith(port, feed),
    budget: clientRateBudget(config.exchange.tier),
    costs: krakenCostModel,
    paper: null,
    feed: feed.feed,
    account: accountFingerprint(credentials.apiKey),
    close: () => {
      feed.close();
      return Promise.resolve();
    },
  };
}
