import { clientRateBudget, krakenCostModel } from '../kraken/budget';
import { Credentials } from '../kraken/credentials';
import { createKrakenExchange } from '../kraken/exchange';
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
      ...(options.clock ? { clock: () => (options.clock as IdleClock).now(), timers: options.clock.waitTimers } : {}),
      ...options.paper,
    });
    log.info(`paper exchange started on ${paper.url} (tier ${paper.tier})`);
    return {
      port: createKrakenExchange({
        url: paper.url,
        credentials: new Credentials(paper.apiKey, paper.apiSecret),
        timeoutMs: config.exchange.requestTimeoutMs,
        // The demo runs the paper exchange on an accelerated clock: deadlines are checked on that clock too.
        ...(options.paper?.clock ? { clock: options.paper.clock } : {}),
        ...clientOnClock(options.clock),
      }),
      budget: clientRateBudget(config.paper.tier),
      costs: krakenCostModel,
      paper,
      account: accountFingerprint(paper.apiKey),
      close: () => paper.close(),
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
  return {
    port: createKrakenExchange({ url: config.exchange.url, credentials, timeoutMs: config.exchange.requestTimeoutMs, ...clientOnClock(options.clock) }),
    budget: clientRateBudget(config.exchange.tier),
    costs: krakenCostModel,
    paper: null,
    account: accountFingerprint(credentials.apiKey),
    close: () => Promise.resolve(),
  };
}
