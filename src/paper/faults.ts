import { SeededRandom } from './random';

/**
 * What can go wrong between a client and Kraken, as seen by the client:
 * - `accept-then-drop`: the request is processed (an order IS placed), then the connection is destroyed unanswered.
 * - `accept-then-timeout`: processed, then no response until the client gives up (the socket is held).
 * - `drop-before-accept`: the connection is destroyed before anything is processed.
 * - `html-5xx-placed` / `html-5xx-not-placed`: a Cloudflare-like HTML error page (502 / 520), after or instead of processing.
 * - `service-unavailable` / `service-busy`: `EService:Unavailable` / `EService:Busy`, nothing processed.
 * - `invalid-nonce`, `temporary-lockout`, `rest-rate-limit`, `trading-rate-limit`: `EAPI:Invalid nonce`,
 *   `EGeneral:Temporary lockout`, `EAPI:Rate limit exceeded`, `EOrder:Rate limit exceeded` answered at once,
 *   nothing processed (what a client sees after a reordered request, a lockout, or a counter it misjudged).
 */
export type FaultKind =
  | 'accept-then-drop'
  | 'accept-then-timeout'
  | 'drop-before-accept'
  | 'html-5xx-placed'
  | 'html-5xx-not-placed'
  | 'service-unavailable'
  | 'service-busy'
  | 'invalid-nonce'
  | 'temporary-lockout'
  | 'rest-rate-limit'
  | 'trading-rate-limit';

export const FAULT_KINDS: readonly FaultKind[] = [
  'accept-then-drop',
  'accept-then-timeout',
  'drop-before-accept',
  'html-5xx-placed',
  'html-5xx-not-placed',
  'service-unavailable',
  'service-busy',
  // Appended, not interleaved: seeded draws of the kinds above stay what they were.
  'invalid-nonce',
  'temporary-lockout',
  'rest-rate-limit',
  'trading-rate-limit',
];

/** Probability (0..1) of each kind on one request. */
export type FaultRates = Partial<Record<FaultKind, number>>;

/**
 * The network and service faults a real run meets: answers dropped after the exchange acted, answers held past
 * the client's timeout, resets before forwarding, HTML 502/503 pages (placed or not), `EService:Unavailable` /
 * `Busy`, invalid nonce. No lockouts and no injected rate limits: the fault soak and the protection-latency
 * bench both run this mix, so their figures speak of the same thing.
 */
export const NETWORK_FAULT_KINDS: readonly FaultKind[] = FAULT_KINDS.slice(0, FAULT_KINDS.indexOf('temporary-lockout'));

/** `total` (0..1) spread evenly over `kinds`: the rates of a mix where each kind is as likely as the next. */
export const evenFaultRates = (kinds: readonly FaultKind[], total: number): FaultRates =>
  Object.fromEntries(kinds.map((kind) => [kind, total / kinds.length]));

/**
 * Endpoint names are Kraken method names (`AddOrder`, `OpenOrders`, `Ticker`, …); `*` stands for every private
 * endpoint without an entry of its own.
 */
export interface FaultConfig {
  /** Seed of the fault draws (default: the exchange's seed). */
  readonly seed?: number;
  readonly rates?: Readonly<Record<string, FaultRates>>;
  /** Added latency in ms before a request is processed. */
  readonly latencyMs?: Readonly<Record<string, number>>;
  /** How long an `accept-then-timeout` socket is held before it is destroyed (default 120 000 ms, on the exchange's timers). */
  readonly timeoutHoldMs?: number;
}

/** One fault that was applied, for inspection. */
export interface AppliedFault {
  readonly endpoint: string;
  readonly kind: FaultKind;
  /** Sequence number of the request on the server. */
  readonly request: number;
}

/** Test control over fault injection. */
export interface FaultControl {
  /** The next `count` requests to `endpoint` (or `*`: every private endpoint) get `kind`, in FIFO order. */
  inject(endpoint: string, kind: FaultKind, count?: number): void;
  /** Seeded random faults on `endpoint` (or `*`). */
  setRates(endpoint: string, rates: FaultRates): void;
  setLatency(endpoint: string, ms: number): void;
  /** Removes every queued fault, rate and latency. */
  clear(): void;
  /** Faults applied so far, in order. */
  applied(): readonly AppliedFault[];
}

/** Decides, deterministically for a seed and an arrival order, which fault (if any) a request gets. */
export class FaultPlan implements FaultControl {
  private readonly queued = new Map<string, FaultKind[]>();
  private readonly rates = new Map<string, FaultRates>();
  private readonly latency = new Map<string, number>();
  private readonly log: AppliedFault[] = [];
  private readonly random: SeededRandom;
  readonly timeoutHoldMs: number;

  constructor(seed: number, config: FaultConfig = {}) {
    this.random = SeededRandom.derive(config.seed ?? seed, 'faults');
    for (const [endpoint, r] of Object.entries(config.rates ?? {})) this.setRates(endpoint, r);
    for (const [endpoint, ms] of Object.entries(config.latencyMs ?? {})) this.setLatency(endpoint, ms);
    this.timeoutHoldMs = config.timeoutHoldMs ?? 120_000;
  }

  inject(endpoint: string, kind: FaultKind, count = 1): void {
    const queue = this.queued.get(endpoint) ?? [];
    for (let i = 0; i < count; i++) queue.push(kind);
    this.queued.set(endpoint, queue);
  }

  setRates(endpoint: string, rates: FaultRates): void {
    for (const [kind, p] of Object.entries(rates)) {
      if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new RangeError(`fault rate for ${kind} must be within 0..1`);
    }
    this.rates.set(endpoint, rates);
  }

  setLatency(endpoint: string, ms: number): void {
    if (!(ms >= 0)) throw new RangeError('latency must be >= 0');
    this.latency.set(endpoint, ms);
  }

  clear(): void {
    this.queued.clear();
    this.rates.clear();
    this.latency.clear();
  }

  applied(): readonly AppliedFault[] {
    return this.log;
  }

  latencyFor(endpoint: string, isPrivate: boolean): number {
    return this.latency.get(endpoint) ?? (isPrivate ? this.latency.get('*') : undefined) ?? 0;
  }

  /** The fault for the `request`-th request, to `endpoint`, or undefined. */
  decide(endpoint: string, isPrivate: boolean, request: number): FaultKind | undefined {
    const kind = this.dequeue(endpoint) ?? (isPrivate ? this.dequeue('*') : undefined) ?? this.draw(endpoint, isPrivate);
    if (kind) this.log.push({ endpoint, kind, request });
    return kind;
  }

  private dequeue(endpoint: string): FaultKind | undefined {
    return this.queued.get(endpoint)?.shift();
  }

  private draw(endpoint: string, isPrivate: boolean): FaultKind | undefined {
    const rates = this.rates.get(endpoint) ?? (isPrivate ? this.rates.get('*') : undefined);
    if (!rates) return undefined;
    const u = this.random.next();
    let cumulative = 0;
    for (const kind of FAULT_KINDS) {
      cumulative += rates[kind] ?? 0;
      if (u < cumulative) return kind;
    }
    return undefined;
  }
}
