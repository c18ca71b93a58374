import { type IncomingMessage } from 'node:http';
import { type Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import { TIERS } from '../kraken/budget';
import { type ExactJson, JsonNumber, parseExactJson } from '../kraken/ws-json';
import { type LinkTracker } from '../time/link-tracker';
import { type TimerHandle, type Timers } from '../time/timers';
import { type EngineEvent } from './engine';
import { type Outcome } from './public-api';
import { SeededRandom } from './random';
import { addOrder, cancelOrder } from './trading-api';
import { type Venue } from './venue';
import { executionEntries, snapshotOrder, snapshotTrade, tickerEntry, wsSymbol } from './ws-executions';
import { type WsFaultControl, WsFaultPlan } from './ws-faults';
import { type WsObject, type WsValue, WsNumber, encodeFrame, int, wsTime } from './ws-frames';
import { addOrderParams, cancelTargets } from './ws-trading';

/** Kraken sends a heartbeat about once a second when nothing else went out (kraken-api.md §8.1). */
export const HEARTBEAT_MS = 1_000;
/** `snap_trades`: the last 50 fills. */
const SNAPSHOT_TRADES = 50;
const MAX_FRAME_BYTES = 64 * 1024;
const INVALID_TOKEN = 'EAPI:Invalid token';

type WsParams = { readonly [key: string]: ExactJson };

const isRecord = (value: ExactJson | undefined): value is WsParams =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof JsonNumber);

/** A `req_id` echoed exactly as it came (an integer's digits, or whatever the client sent). */
const echo = (value: ExactJson | undefined): WsValue | undefined => {
  if (value === undefined) return undefined;
  if (value instanceof JsonNumber) return new WsNumber(value.text);
  if (typeof value === 'string' || typeof value === 'boolean' || value === null) return value;
  return undefined;
};

/**
 * The paper exchange's WebSocket v2 (`/v2` on the REST port): `status` on connect, `subscribe` / `unsubscribe`
 * for `executions` (token, `snap_orders`, `snap_trades`), `ticker` and `heartbeat`; `ping`; `add_order` and
 * `cancel_order` through the same validation, engine, balances and trading counter as REST. Frames in flight
 * are reported to a `LinkTracker`, so an idle clock waits for their delivery.
 */
export class PaperWsServer {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  private readonly sessions = new Set<WsSession>();
  private readonly random: SeededRandom;
  private readonly stopWatching: Array<() => void>;
  readonly plan = new WsFaultPlan();
  readonly control: WsFaultControl;

  constructor(
    private readonly venue: Venue,
    private readonly timers: Timers,
    private readonly links: LinkTracker,
    seed: number,
  ) {
    this.random = SeededRandom.derive(seed, 'ws-connections');
    this.stopWatching = [
      venue.engine.watch((event) => this.each((s) => s.onEngine(event))),
      venue.watchMarket(() => this.each((s) => s.onMarket())),
    ];
    const plan = this.plan;
    this.control = {
      drop: (code) => this.each((s) => s.drop(code)),
      stall: () => this.each((s) => s.stall()),
      skipSequence: (count) => plan.skipSequence(count),
      setDelay: (ms) => plan.setDelay(ms),
      refuseToken: (count) => plan.refuseToken(count),
      clear: () => plan.clear(),
    };
  }

  /** Tells every socket the engine's new status, as Kraken's `status` channel does on a change. */
  statusChanged(): void {
    this.each((s) => s.sendStatus());
  }

  /** `ticker` subscriptions asked for since the start, by WS symbol (`BTC/USD`; for inspection). */
  readonly tickerSubscribes = new Map<string, number>();

  /** Open sockets (for inspection). */
  connections(): number {
    return this.sessions.size;
  }

  /** The HTTP server's `upgrade` handler: `/v2` becomes a socket, anything else a 404. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/v2') {
      socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const session = new WsSession(
        ws,
        String(req.socket.remotePort),
        this.venue,
        this.timers,
        this.links,
        this.plan,
        this.connectionId(),
        () => this.sessions.delete(session),
        (symbol) => this.tickerSubscribes.set(symbol, (this.tickerSubscribes.get(symbol) ?? 0) + 1),
      );
      this.sessions.add(session);
      session.start();
    });
  }

  close(): void {
    for (const stop of this.stopWatching) stop();
    this.each((s) => s.drop(undefined));
    this.wss.close();
  }

  private each(act: (session: WsSession) => void): void {
    for (const session of [...this.sessions]) act(session);
  }

  /** A u64, as Kraken's are: more digits than a double holds. */
  private connectionId(): bigint {
    const high = BigInt(this.random.int(0x7fffffff) + 0x10000000);
    return (high << 32n) | BigInt(this.random.int(0xffffffff));
  }
}

interface ExecutionsSubscription {
  readonly release: (now: number) => void;
}

/** One client connection. */
class WsSession {
  private executions: ExecutionsSubscription | null = null;
  private readonly tickers = new Set<string>();
  private heartbeats = false;
  private heartbeat: TimerHandle | undefined;
  private readonly delayed = new Set<TimerHandle>();
  private sequence = 0;
  private stalled = false;
  private ended = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly link: string,
    private readonly venue: Venue,
    private readonly timers: Timers,
    private readonly links: LinkTracker,
    private readonly plan: WsFaultPlan,
    private readonly connectionId: bigint,
    private readonly forget: () => void,
    /** Counts one `ticker` subscription of a symbol. */
    private readonly subscribedTicker: (symbol: string) => void,
  ) {}

  start(): void {
    this.ws.on('message', (data: Buffer, isBinary: boolean) => {
      try {
        this.onMessage(isBinary ? '' : data.toString('utf8'));
      } finally {
        this.links.received(this.link);
      }
    });
    this.ws.on('close', () => this.end());
    this.ws.on('error', () => this.ws.terminate());
    this.sendStatus();
  }

  sendStatus(): void {
    this.send({
      channel: 'status',
      type: 'update',
      data: [{ api_version: 'v2', connection_id: int(this.connectionId), system: this.venue.systemStatus, version: '2.0.10' }],
    });
  }

  /** Closes the socket from this end: the link counts as closing until the client has seen it. */
  drop(code: number | undefined): void {
    if (code === undefined) this.ws.terminate();
    else this.ws.close(code, code === 1008 ? 'Policy violation' : '');
    this.end();
  }

  stall(): void {
    this.stalled = true;
    this.stopHeartbeat();
  }

  onEngine(event: EngineEvent): void {
    if (!this.executions) return;
    for (const entry of executionEntries(event, this.venue.catalogue)) {
      this.send({ channel: 'executions', type: 'update', data: [entry], sequence: int(this.nextSequence()) });
    }
  }

  onMarket(): void {
    for (const key of this.tickers) this.sendTicker(key, 'update');
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.stopHeartbeat();
    for (const handle of this.delayed) this.timers.clearTimeout(handle);
    this.delayed.clear();
    this.executions?.release(this.venue.now());
    this.executions = null;
    this.links.ended(this.link);
    this.forget();
  }

  private nextSequence(): number {
    this.sequence += 1 + this.plan.takeSkip();
    return this.sequence;
  }

  // ── sending ─────────────────────────────────────────────────────────────

  private send(frame: WsObject): void {
    if (this.ended || this.stalled) return;
    const text = encodeFrame(frame);
    const delay = this.plan.delayMs;
    if (delay === 0 && this.delayed.size === 0) {
      this.write(text);
      return;
    }
    // Held frames go out in order: a frame sent while others are held waits behind them.
    const handle = this.timers.setTimeout(() => {
      this.delayed.delete(handle);
      this.write(text);
    }, delay);
    this.delayed.add(handle);
  }

  private write(text: string): void {
    if (this.ended || this.stalled || this.ws.readyState !== this.ws.OPEN) return;
    this.links.sent(this.link);
    this.ws.send(text);
    this.armHeartbeat();
  }

  private armHeartbeat(): void {
    if (!this.heartbeats || this.stalled) return;
    this.stopHeartbeat();
    this.heartbeat = this.timers.setTimeout(() => {
      this.heartbeat = undefined;
      this.send({ channel: 'heartbeat' });
    }, HEARTBEAT_MS);
  }

  private stopHeartbeat(): void {
    if (this.heartbeat !== undefined) this.timers.clearTimeout(this.heartbeat);
    this.heartbeat = undefined;
  }

  private startHeartbeats(): void {
    this.heartbeats = true;
    this.armHeartbeat();
  }

  // ── receiving ───────────────────────────────────────────────────────────

  private onMessage(text: string): void {
    const timeIn = wsTime(this.venue.now());
    let message: ExactJson;
    try {
      message = parseExactJson(text);
    } catch {
      this.send({ error: 'EGeneral:Invalid arguments', success: false, time_in: timeIn, time_out: timeIn });
      return;
    }
    if (!isRecord(message) || typeof message['method'] !== 'string') {
      this.send({ error: 'EGeneral:Invalid arguments', success: false, time_in: timeIn, time_out: timeIn });
      return;
    }
    const method = message['method'];
    const reqId = echo(message['req_id']);
    const params = message['params'];
    const answer = (body: { readonly result: WsObject } | { readonly error: string }, as: string = method): void => {
      const timeOut = wsTime(this.venue.now());
      if ('result' in body) this.send({ method: as, req_id: reqId, result: body.result, success: true, time_in: timeIn, time_out: timeOut });
      else this.send({ error: body.error, method: as, req_id: reqId, success: false, time_in: timeIn, time_out: timeOut });
    };
    if (params !== undefined && !isRecord(params)) {
      answer({ error: 'EGeneral:Invalid arguments:params' });
      return;
    }
    const p: WsParams = params ?? {};
    switch (method) {
      case 'ping':
        this.send({ method: 'pong', req_id: reqId, time_in: timeIn, time_out: wsTime(this.venue.now()) });
        return;
      case 'subscribe':
        this.subscribe(p, answer);
        return;
      case 'unsubscribe':
        this.unsubscribe(p, answer);
        return;
      case 'add_order':
        this.addOrder(p, answer);
        return;
      case 'cancel_order':
        this.cancelOrder(p, answer);
        return;
      default:
        answer({ error: 'Method not found' });
    }
  }

  /** The key behind a request's token, or the error to answer with. */
  private authorize(p: WsParams, now: number): { readonly apiKey: string; readonly token: string } | { readonly error: string } {
    const token = p['token'];
    if (typeof token !== 'string' || token === '') return { error: 'EGeneral:Invalid arguments:token' };
    if (this.plan.takeRefusal()) return { error: INVALID_TOKEN };
    const apiKey = this.venue.wsTokens.keyOf(token, now);
    return apiKey === undefined ? { error: INVALID_TOKEN } : { apiKey, token };
  }

  private subscribe(p: WsParams, answer: Answer): void {
    const channel = p['channel'];
    switch (channel) {
      case 'executions':
        this.subscribeExecutions(p, answer);
        return;
      case 'ticker':
        this.subscribeTicker(p, answer);
        return;
      case 'heartbeat':
        answer({ result: { channel: 'heartbeat' } });
        this.startHeartbeats();
        return;
      default:
        answer({ error: 'Channel not found' });
    }
  }

  private subscribeExecutions(p: WsParams, answer: Answer): void {
    const now = this.catchUp();
    const auth = this.authorize(p, now);
    if ('error' in auth) {
      answer({ error: auth.error });
      return;
    }
    if (this.executions) {
      answer({ error: 'Already subscribed' });
      return;
    }
    const snapOrders = p['snap_orders'] !== false;
    const snapTrades = p['snap_trades'] === true || p['snapshot'] === true;
    this.executions = { release: this.venue.wsTokens.hold(auth.token) };
    const max = TIERS[this.venue.tier].trading?.max;
    answer({
      result: { channel: 'executions', ...(max !== undefined ? { maxratecount: int(max) } : {}), snap_orders: snapOrders, snap_trades: snapTrades },
    });
    const orders = snapOrders ? this.venue.book.open().map(snapshotOrder) : [];
    const tape = this.venue.engine.trades();
    const trades = snapTrades
      ? tape.slice(-SNAPSHOT_TRADES).map((t) => snapshotTrade(t, this.venue.book.get(t.orderTxid), this.venue.catalogue))
      : [];
    this.send({ channel: 'executions', type: 'snapshot', data: [...trades, ...orders], sequence: int(this.nextSequence()) });
    this.startHeartbeats();
  }

  private subscribeTicker(p: WsParams, answer: Answer): void {
    const symbols = p['symbol'];
    if (!Array.isArray(symbols) || symbols.length === 0) {
      answer({ error: 'EGeneral:Invalid arguments:symbol' });
      return;
    }
    for (const symbol of symbols as readonly ExactJson[]) {
      const pair = typeof symbol === 'string' ? this.venue.catalogue.find(symbol) : undefined;
      if (!pair || typeof symbol !== 'string') {
        answer({ error: `Currency pair not supported ${typeof symbol === 'string' ? symbol : ''}`.trim() });
        continue;
      }
      answer({ result: { channel: 'ticker', event_trigger: 'trades', snapshot: true, symbol: wsSymbol(pair) } });
      this.subscribedTicker(wsSymbol(pair));
      this.tickers.add(pair.key);
      this.sendTicker(pair.key, 'snapshot');
    }
    this.startHeartbeats();
  }

  private unsubscribe(p: WsParams, answer: Answer): void {
    const channel = p['channel'];
    if (channel === 'executions') {
      if (!this.executions) {
        // Kraken's own quirk (kraken-api.md §8.4): the error names `subscribe`.
        answer({ error: 'Subscription Not Found' }, 'subscribe');
        return;
      }
      this.executions.release(this.venue.now());
      this.executions = null;
      answer({ result: { channel: 'executions' } });
    } else if (channel === 'ticker' && Array.isArray(p['symbol'])) {
      for (const symbol of p['symbol'] as readonly ExactJson[]) {
        const pair = typeof symbol === 'string' ? this.venue.catalogue.find(symbol) : undefined;
        if (!pair || !this.tickers.delete(pair.key)) {
          answer({ error: 'Subscription Not Found' }, 'subscribe');
          continue;
        }
        answer({ result: { channel: 'ticker', symbol: wsSymbol(pair) } });
      }
    } else {
      answer({ error: 'Subscription Not Found' }, 'subscribe');
      return;
    }
    // Kraken closes a socket that has no subscriptions left.
    if (!this.executions && this.tickers.size === 0) this.drop(1000);
  }

  /**
   * A trading method's answer, after what every one of them checks first: the token, then maintenance (in which
   * the engine takes no orders and no cancels, as over REST).
   */
  private trading(p: WsParams, answer: Answer, act: (apiKey: string, now: number) => void): void {
    const now = this.catchUp();
    const auth = this.authorize(p, now);
    if ('error' in auth) {
      answer({ error: auth.error });
      return;
    }
    if (this.venue.systemStatus === 'maintenance') {
      answer({ error: 'EService:Unavailable' });
      return;
    }
    act(auth.apiKey, now);
  }

  private addOrder(p: WsParams, answer: Answer): void {
    this.trading(p, answer, (apiKey, now) => this.placeOrder(p, answer, apiKey, now));
  }

  private placeOrder(p: WsParams, answer: Answer, apiKey: string, now: number): void {
    const translated = addOrderParams(p);
    if (!translated.ok) {
      answer({ error: `EGeneral:Invalid arguments:${translated.field}` });
      return;
    }
    const outcome = addOrder(this.venue, translated.params, apiKey, now, now);
    if (!outcome.ok) {
      answer({ error: outcome.error });
      return;
    }
    const txids = outcome.result['txid'];
    const orderId = Array.isArray(txids) && typeof txids[0] === 'string' ? txids[0] : '';
    const clOrdId = p['cl_ord_id'];
    const userref = p['order_userref'];
    answer({
      result: {
        order_id: orderId,
        ...(typeof clOrdId === 'string' ? { cl_ord_id: clOrdId } : {}),
        ...(userref instanceof JsonNumber ? { order_userref: new WsNumber(userref.text) } : {}),
      },
    });
  }

  private cancelOrder(p: WsParams, answer: Answer): void {
    this.trading(p, answer, (_apiKey, now) => this.cancelOrders(p, answer, now));
  }

  private cancelOrders(p: WsParams, answer: Answer, now: number): void {
    const targets = cancelTargets(p);
    if (!targets.ok) {
      answer({ error: `EGeneral:Invalid arguments:${targets.field}` });
      return;
    }
    // One answer per id (Kraken's docs: "a stream of individual order responses").
    for (const target of targets.targets) {
      const outcome: Outcome = cancelOrder(this.venue, target.params, now);
      if (outcome.ok) answer({ result: { [target.field]: target.id } });
      else answer({ error: wsCancelError(outcome.error) });
    }
  }

  private sendTicker(pairKey: string, type: 'snapshot' | 'update'): void {
    const pair = this.venue.catalogue.find(pairKey);
    if (!pair) return;
    this.send({ channel: 'ticker', type, data: [tickerEntry(pair, this.venue.market.stats(pair.key))] });
  }

  private catchUp(): number {
    const now = this.venue.now();
    this.venue.catchUp(now);
    return now;
  }
}

/**
 * Kraken's WS answer to a cancel of an order that is gone (filled, cancelled, expired or never known) is
 * `EOrder:Invalid order` (kraken-api.md §8.3), where REST's CancelOrder answers `EOrder:Unknown order`; one engine
 * decides, each API words it its own way.
 */
const wsCancelError = (restError: string): string => (restError === 'EOrder:Unknown order' ? 'EOrder:Invalid order' : restError);

type Answer = (body: { readonly result: WsObject } | { readonly error: string }, as?: string) => void;
