import crossFetch from 'cross-fetch';
import { lastValueFrom, map } from 'rxjs';
import { type KrakenClient, createKrakenClient } from '../../../src/kraken/client';
import { Credentials } from '../../../src/kraken/credentials';
import { NonceSource } from '../../../src/kraken/nonce';
import { pairBookFromAssetPairs } from '../../../src/kraken/pairs';
import { PrivateLane } from '../../../src/kraken/private-lane';
import { type FetchLike } from '../../../src/kraken/transport';
import { KrakenWsFeed } from '../../../src/kraken/ws-feed';
import { type PairBook } from '../../../src/model/pair';
import { type PaperExchange, startPaperExchange } from '../../../src/paper';
import { IdleClock } from '../../../src/time/idle-clock';

/** A REST request the client sent, by Kraken method name and clock time. */
export interface RestCall {
  readonly method: string;
  readonly at: number;
}

/** The paper exchange, the REST client and the real WebSocket feed, all on one idle clock over 127.0.0.1. */
export interface IdleWs {
  readonly clock: IdleClock;
  readonly paper: PaperExchange;
  readonly client: KrakenClient;
  readonly pairs: PairBook;
  readonly ws: KrakenWsFeed;
  /** Every REST request, in the order sent. */
  readonly rest: RestCall[];
}

export interface IdleWsOptions {
  readonly restTimeoutMs: number;
  /** The feed's reconnect jitter (its random source is fixed at 0.5). */
  readonly jitter: number;
}

/**
 * A starter-tier paper exchange (seed 7) and a client and feed that talk to it over loopback on an `IdleClock`:
 * real sockets, virtual waiting. The client's fetch refuses any other address.
 */
export async function idleWs(options: IdleWsOptions): Promise<IdleWs> {
  const clock = new IdleClock();
  const paper = await startPaperExchange({ seed: 7, tier: 'starter', clock: () => clock.now(), timers: clock.waitTimers, wsTimers: clock.timers, links: clock.links });
  const rest: RestCall[] = [];
  const fetch: FetchLike = (url, init) => {
    if (!url.startsWith(`${paper.url}/`)) return Promise.reject(new Error('only the paper exchange on 127.0.0.1'));
    rest.push({ method: /\/0\/(?:public|private)\/([A-Za-z]+)/.exec(url)?.[1] ?? url, at: clock.now() });
    return clock.io(async () => {
      const response = await crossFetch(url, init);
      const body = await response.text();
      return { status: response.status, headers: response.headers, text: () => Promise.resolve(body) };
    }, init.signal);
  };
  const client = createKrakenClient({
    url: paper.url,
    credentials: new Credentials(paper.apiKey, paper.apiSecret),
    timeoutMs: options.restTimeoutMs,
    lane: new PrivateLane(new NonceSource(() => clock.now())),
    fetch,
    clock: () => clock.now(),
    timers: clock.timers,
  });
  const pairs = pairBookFromAssetPairs(await clock.drive(lastValueFrom(client.assetPairs()), 10_000));
  const ws = new KrakenWsFeed({
    privateUrl: paper.wsUrl,
    publicUrl: paper.wsUrl,
    token: () => client.getWebSocketsToken().pipe(map((t) => t.token)),
    pairs,
    links: clock.links,
    scheduler: clock,
    random: () => 0.5,
    watchdogMs: 5_000,
    requestTimeoutMs: 3_000,
    backoff: { initialDelayMs: 500, maxDelayMs: 8_000, multiplier: 2, jitter: options.jitter },
  });
  return { clock, paper, client, pairs, ws, rest };
}
