import fetch from 'cross-fetch';
import { NonceSource } from '../../src/kraken/nonce';
import { signRequest } from '../../src/kraken/sign';
import { type ApiCredentials, type PaperExchange, type PaperOptions, startPaperExchange } from '../../src/paper';
import { IdleClock } from '../../src/time/idle-clock';

/** Kraken's envelope as the tests read it. */
export interface Envelope {
  readonly error: readonly string[];
  readonly result?: Record<string, unknown>;
}

export type ParamValue = string | number | boolean;

export interface Override {
  readonly nonce?: string;
  readonly sign?: string;
  readonly key?: string;
  readonly signal?: AbortSignal;
}

/** How a request is run: directly, or through an idle clock that stands still while it is served. */
type Through = <T>(start: () => Promise<T>, signal?: AbortSignal) => Promise<T>;
const direct: Through = (start) => start();

/** A minimal stock-Kraken-style client: signs exactly the bytes it sends, one nonce source per key. */
export class TestClient {
  private readonly nonces: NonceSource;

  constructor(
    private readonly url: string,
    private readonly credentials: ApiCredentials,
    clock: () => number = Date.now,
    private readonly encoding: 'form' | 'json' = 'form',
    private readonly through: Through = direct,
  ) {
    this.nonces = new NonceSource(clock);
  }

  async public(method: string, query: Record<string, string> = {}): Promise<Envelope> {
    const search = new URLSearchParams(query).toString();
    return this.through(async () => {
      const res = await fetch(`${this.url}/0/public/${method}${search ? `?${search}` : ''}`);
      return (await res.json()) as Envelope;
    });
  }

  async private(method: string, params: Record<string, ParamValue> = {}, override: Override = {}): Promise<Envelope> {
    const text = await this.through(async () => (await this.privateRaw(method, params, override)).text(), override.signal);
    return JSON.parse(text) as Envelope;
  }

  /** The bare response (not run through the clock: for a test that reads the connection itself). */
  async privateRaw(method: string, params: Record<string, ParamValue> = {}, override: Override = {}) {
    const nonce = override.nonce ?? this.nonces.next().toString();
    const path = `/0/private/${method}`;
    let body: string;
    let contentType: string;
    if (this.encoding === 'json') {
      body = JSON.stringify({ nonce, ...params });
      contentType = 'application/json';
    } else {
      const form = new URLSearchParams({ nonce });
      for (const [k, v] of Object.entries(params)) form.append(k, String(v));
      body = form.toString();
      contentType = 'application/x-www-form-urlencoded';
    }
    return fetch(`${this.url}${path}`, {
      method: 'POST',
      headers: {
        'API-Key': override.key ?? this.credentials.apiKey,
        'API-Sign': override.sign ?? signRequest(path, nonce, body, this.credentials.apiSecret),
        'Content-Type': contentType,
      },
      body,
      ...(override.signal ? { signal: override.signal } : {}),
    });
  }
}

/** A virtual clock the tests move by hand, so rate-limit decay and expiry never need a sleep. */
export class ManualClock {
  constructor(public time = Date.UTC(2026, 0, 5, 12, 0, 0)) {}
  readonly now = (): number => this.time;
  tick(ms: number): void {
    this.time += ms;
  }
}

export async function paperWithClient(options: PaperOptions = {}, encoding: 'form' | 'json' = 'form') {
  const clock = new ManualClock();
  const exchange: PaperExchange = await startPaperExchange({ clock: clock.now, seed: 7, ...options });
  const client = new TestClient(exchange.url, exchange, () => clock.now(), encoding);
  return { exchange, client, clock };
}

/**
 * A paper exchange and a client on one idle clock: every request of the client goes through it, the exchange
 * waits (latency, held answers, its market ticks) on its timers, and `drive` lets clock time run until a
 * promise settles — so waits are exact and free of the machine's load.
 */
export async function paperOnIdleClock(options: PaperOptions = {}) {
  const clock = new IdleClock();
  const exchange: PaperExchange = await startPaperExchange({ seed: 7, ...options, clock: () => clock.now(), timers: clock.waitTimers });
  const through: Through = (start, signal) => clock.io(start, signal);
  const client = new TestClient(exchange.url, exchange, () => clock.now(), 'form', through);
  /** Lets clock time run until `promise` settles (an hour at most), then returns its outcome. */
  const drive = <T>(promise: Promise<T>): Promise<T> => clock.drive(promise, 3_600_000);
  return { exchange, client, clock, drive };
}

export function result<T = Record<string, unknown>>(envelope: Envelope): T {
  if (envelope.error.length > 0) throw new Error(`unexpected error: ${envelope.error.join(', ')}`);
  return envelope.result as T;
}
