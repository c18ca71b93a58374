import crossFetch from 'cross-fetch';
import pg from 'pg';
import { NEVER, type Observable, Subject, type Subscription, concat, firstValueFrom, map, of, switchMap } from 'rxjs';
import { type LeaderEvent, lead } from '../../../src/cluster/leader';
import { type Lease, openPgLease } from '../../../src/cluster/lease';
import { accountFingerprint } from '../../../src/journal/account';
import { openPgJournal } from '../../../src/journal/pg';
import { clientRateBudget, krakenCostModel } from '../../../src/kraken/budget';
import { Credentials } from '../../../src/kraken/credentials';
import { createKrakenExchange } from '../../../src/kraken/exchange';
import { NonceSource } from '../../../src/kraken/nonce';
import { PrivateLane } from '../../../src/kraken/private-lane';
import { type FetchLike, type FetchResponseLike } from '../../../src/kraken/transport';
import { type ExecutionConfig } from '../../../src/model/config';
import { type ExecutionReport } from '../../../src/model/report';
import { type TradeSignal } from '../../../src/model/signal';
import { type PaperExchange, startPaperExchange } from '../../../src/paper';
import { type Logger } from '../../../src/streams/deps';
import { createExecutionHandler } from '../../../src/streams/execution-handler';
import { type ConfigOverrides, testConfig } from '../../../src/testing/config';
import { seededRandom, seededUuids } from '../../../src/testing/seeded';
import { IDLE_CLOCK_ORIGIN, IdleClock } from '../../../src/time/idle-clock';
import { ioJournal, ioLease } from './io-bound';
import { PG_URL, uniqueName } from './services';

/** How long a node's grant lasts, how often it renews and how often a standby tries (clock ms). */
export const CLUSTER_TTL_MS = 10_000;
const RENEW_MS = 3_000;
const RETRY_MS = 1_000;

const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const logger = (name: string): Logger =>
  process.env['E2E_LOG'] === '1'
    ? {
        debug: () => undefined,
        info: (...args: unknown[]) => console.log(name, ...args),
        warn: (...args: unknown[]) => console.warn(name, ...args),
        error: (...args: unknown[]) => console.error(name, ...args),
      }
    : quiet;

/** One AddOrder as a node's client sent it: its `cl_ord_id` and the clock time it left. */
export interface SentOrder {
  readonly clOrdId: string;
  readonly sentAt: number;
}

/**
 * One `kraken-rx run` of the cluster, in process: its own Kraken client (own nonce source and private lane, on
 * the shared key), its own lease holder, and a handler created only once `lead` says `ready`, torn down the
 * moment it says `lost`. `partitioned` makes its lease renewals hang (a network partition from PostgreSQL for
 * the lease alone): it then still believes it leads until a write of its journal is fenced.
 */
export class ClusterNode {
  readonly events: string[] = [];
  readonly reports: ExecutionReport[] = [];
  /** Every AddOrder this node's client sent, in order. */
  readonly sent: SentOrder[] = [];
  /** Requests of any kind this node's client made. */
  requests = 0;
  partitioned = false;
  readonly problems: string[] = [];
  private subscription: Subscription | null = null;

  constructor(
    readonly name: string,
    private readonly cluster: Cluster,
    private readonly lease: Lease,
    private readonly pgUrl: string,
    private readonly seed: number,
  ) {}

  start(): void {
    const { clock, paper, config } = this.cluster;
    const port = createKrakenExchange({
      url: paper.url,
      credentials: new Credentials(paper.apiKey, paper.apiSecret),
      timeoutMs: config.exchange.requestTimeoutMs,
      lane: new PrivateLane(new NonceSource(() => clock.now())),
      fetch: this.fetch(paper.url),
      clock: () => clock.now(),
      timers: clock.timers,
    });
    const lease: Lease = { ...this.lease, renew: (grant, now) => (this.partitioned ? NEVER : this.lease.renew(grant, now)) };
    const life$ = lead(
      {
        lease,
        hold: { retryMs: RETRY_MS, renewMs: RENEW_MS },
        inFlightMs: config.entry.deadlineMs + config.exchange.requestTimeoutMs,
        patience: { backoff: { initialDelayMs: 100, maxDelayMs: 1_000, multiplier: 2, jitter: 0 } },
        openJournal: async (grant) =>
          ioJournal(
            await clock.io(() => openPgJournal({ connectionString: this.pgUrl, schema: this.cluster.schema, account: this.cluster.account, epoch: grant.epoch })),
            clock,
          ),
      },
      clock,
    );
    type Seen = { readonly event: LeaderEvent } | { readonly report: ExecutionReport };
    const seen$: Observable<Seen> = life$.pipe(
      // switchMap: `lost` replaces the handler's run, which is torn down at once (nothing more is sent).
      switchMap((event): Observable<Seen> => {
        if (event.kind !== 'ready') return of({ event });
        const handler = createExecutionHandler(config, {
          port,
          budget: clientRateBudget(paper.tier),
          costs: krakenCostModel,
          scheduler: clock,
          random: seededRandom(this.seed),
          // Each node draws its own client order ids: two nodes must never make the same one.
          newId: seededUuids(seededRandom(this.seed + 1)),
          log: logger(this.name),
          journal: event.journal,
        }).connect({ signals$: this.cluster.signals });
        return concat(of({ event }), handler.reports$.pipe(map((report) => ({ report }))));
      }),
    );
    this.subscription = seen$.subscribe({
      next: (seen) => {
        if ('report' in seen) this.reports.push(seen.report);
        else this.events.push(`${clock.now() - IDLE_CLOCK_ORIGIN}: ${describe(seen.event)}`);
      },
      error: (error: unknown) => this.problems.push(`${this.name} errored: ${String(error)}`),
    });
  }

  /** Ends this node at once, as a kill does: its lease is not released (it lapses). */
  kill(): void {
    this.subscription?.unsubscribe();
    this.subscription = null;
  }

  leads(): boolean {
    return this.events.some((e) => e.includes(': ready')) && !this.events.some((e) => e.includes(': lost'));
  }

  /** The clock time (since the origin) this node's handler was started, or `null`. */
  readyAt(): number | null {
    const line = this.events.find((e) => e.includes(': ready'));
    return line === undefined ? null : Number(line.split(':')[0]);
  }

  private fetch(base: string): FetchLike {
    const { clock } = this.cluster;
    return (url, init) => {
      if (!url.startsWith(`${base}/`)) {
        this.problems.push(`request outside the paper exchange: ${url}`);
        return Promise.reject(new Error('only the paper exchange on 127.0.0.1 may be called'));
      }
      return clock.io(async () => {
        this.requests += 1;
        if (url.endsWith('/AddOrder')) {
          const clOrdId = new URLSearchParams(typeof init.body === 'string' ? init.body : '').get('cl_ord_id') ?? '?';
          this.sent.push({ clOrdId, sentAt: clock.now() - IDLE_CLOCK_ORIGIN });
        }
        const response = await crossFetch(url, init);
        const body = await response.text();
        const copy: FetchResponseLike = { status: response.status, headers: response.headers, text: () => Promise.resolve(body) };
        return copy;
      }, init.signal);
    };
  }
}

const describe = (event: LeaderEvent): string => {
  switch (event.kind) {
    case 'standby':
      return `standby ${event.heldBy === null ? `(${String(event.problem)})` : `${event.heldBy.holder}#${event.heldBy.epoch}`}`;
    case 'leading':
      return `leading ${event.grant.holder}#${event.grant.epoch}`;
    case 'ready':
      return `ready ${event.grant.holder}#${event.grant.epoch}`;
    case 'lost':
      return `lost ${event.grant.holder}#${event.grant.epoch}: ${event.why}`;
  }
};

export interface ClusterOptions {
  readonly config?: ConfigOverrides;
}

/**
 * A paper exchange on 127.0.0.1, one account's schema in PostgreSQL, and nodes that contend for its lease, all
 * on one idle clock (every HTTP request and every PostgreSQL call counted as I/O: virtual time stands still
 * while either answers). `signals` is fed to every node that leads, as a bus would.
 */
export class Cluster {
  readonly signals = new Subject<TradeSignal>();
  readonly nodes: ClusterNode[] = [];
  readonly schema = uniqueName('krx_test_cluster');
  private readonly leases: Lease[] = [];

  private constructor(
    readonly clock: IdleClock,
    readonly paper: PaperExchange,
    readonly config: ExecutionConfig,
    readonly account: string,
  ) {}

  static async start(options: ClusterOptions = {}): Promise<Cluster> {
    const clock = new IdleClock();
    const paper = await startPaperExchange({
      seed: 7,
      tier: 'starter',
      faults: { timeoutHoldMs: 120_000 },
      clock: () => clock.now(),
      timers: clock.waitTimers,
    });
    return new Cluster(clock, paper, testConfig(options.config), accountFingerprint(paper.apiKey));
  }

  /** A node named `name` (its lease holder), reaching PostgreSQL at `pgUrl` (a relay, say); started at once. */
  async node(name: string, pgUrl = PG_URL): Promise<ClusterNode> {
    const lease = await openPgLease({ connectionString: pgUrl, schema: this.schema, account: this.account, holder: name, ttlMs: CLUSTER_TTL_MS });
    this.leases.push(lease);
    const node = new ClusterNode(name, this, ioLease(lease, this.clock), pgUrl, 100 * (this.nodes.length + 1));
    this.nodes.push(node);
    node.start();
    return node;
  }

  /** Lets clock time run until `condition` holds; fails naming `what` when `limitMs` pass first. */
  async until(what: string, condition: () => boolean, limitMs = 600_000): Promise<void> {
    if (await this.clock.runUntil(condition, limitMs)) return;
    const lines = this.nodes.map((n) => `${n.name}: ${n.events.join(' | ')}\n  ${n.reports.map((r) => `${r.signalId}/${r.role}/${r.status}`).join(' ')}`);
    throw new Error(`cluster: gave up waiting for ${what}\n${lines.join('\n')}`);
  }

  /** Every report of every node, in the order they came. */
  reports(): ExecutionReport[] {
    return this.nodes.flatMap((n) => n.reports);
  }

  async close(): Promise<void> {
    for (const node of this.nodes) node.kill();
    this.signals.complete();
    await this.clock.settle();
    for (const lease of this.leases) await firstValueFrom(lease.close()).catch(() => undefined);
    await this.paper.close();
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      await client.query(`DROP SCHEMA IF EXISTS "${this.schema}" CASCADE`);
    } finally {
      await client.end();
    }
    const problems = this.nodes.flatMap((n) => n.problems);
    if (problems.length > 0) throw new Error(`cluster problems:\n${problems.join('\n')}`);
  }
}
