import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo } from 'node:net';
import { type Duplex } from 'node:stream';
import { type Authenticator } from './auth';
import { dispatchPrivate } from './dispatch';
import { type FaultKind, type FaultPlan } from './faults';
import { Params } from './params';
import { callPublic, failure, type Outcome, PUBLIC_METHODS } from './public-api';
import { type TimerHandle, type Timers } from '../time/timers';
import { type Venue } from './venue';

export const PRIVATE_METHODS: ReadonlySet<string> = new Set([
  'AddOrder',
  'CancelOrder',
  'OpenOrders',
  'ClosedOrders',
  'QueryOrders',
  'Balance',
  'BalanceEx',
  'TradesHistory',
  'CancelAll',
  'CancelAllOrdersAfter',
  'GetWebSocketsToken',
]);

const PATH = /^\/0\/(public|private)\/([A-Za-z]+)$/;

/** Counters the inspection API reads. */
export interface TrafficStats {
  readonly requests: Map<string, number>;
}

type Route =
  | { readonly kind: 'public'; readonly method: string }
  | { readonly kind: 'private'; readonly method: string }
  | { readonly kind: 'unknown'; readonly status: number; readonly label: string };

/**
 * The HTTP face of the paper exchange: Kraken's paths, envelopes, auth and REST counter, with seeded faults
 * applied around the processing. A malformed request gets an error answer and never touches the state.
 */
export class PaperServer {
  private readonly server: Server;
  private readonly pending = new Set<TimerHandle>();
  private sequence = 0;
  private closing = false;
  readonly traffic: TrafficStats = { requests: new Map() };
  /** Where an HTTP upgrade (the WebSocket API on `/v2`) goes; without one the socket is closed. */
  onUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void = (_req, socket) => socket.destroy();

  constructor(
    private readonly venue: Venue,
    private readonly auth: Authenticator,
    private readonly faults: FaultPlan,
    private readonly maxBodyBytes: number,
    private readonly timers: Timers,
  ) {
    this.server = createServer((req, res) => this.onRequest(req, res));
    this.server.on('clientError', (_err, socket) => socket.destroy());
    this.server.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
  }

  listen(port: number): Promise<string> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        const address = this.server.address() as AddressInfo;
        resolve(`http://127.0.0.1:${address.port}`);
      });
    });
  }

  close(): Promise<void> {
    this.closing = true;
    for (const t of this.pending) this.timers.clearTimeout(t);
    this.pending.clear();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    req.on('error', () => req.socket.destroy());
    res.on('error', () => req.socket.destroy());
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      if (tooLarge) return;
      size += chunk.length;
      if (size > this.maxBodyBytes) {
        tooLarge = true;
        chunks.length = 0;
        sendHtml(res, 413, 'Request Entity Too Large');
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (tooLarge) return;
      this.handle(req, res, Buffer.concat(chunks).toString('utf8')).catch(() => {
        if (!res.headersSent) sendJson(res, 200, failure('EGeneral:Internal error'));
      });
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse, body: string): Promise<void> {
    const request = ++this.sequence;
    const arrivedAt = this.venue.now();
    const url = parseUrl(req.url);
    const route = url ? this.route(req.method ?? '', url.pathname) : UNPARSABLE;
    this.count(route.kind === 'unknown' ? route.label : route.method);
    if (route.kind === 'unknown') {
      sendJson(res, route.status, failure('EGeneral:Unknown method'));
      return;
    }
    const fault = this.faults.decide(route.method, route.kind === 'private', request);
    if (this.answeredBeforeProcessing(fault, req, res)) return;
    const latency = this.faults.latencyFor(route.method, route.kind === 'private');
    if (latency > 0) await this.sleep(latency);
    if (this.closing) return;

    const outcome =
      route.kind === 'public'
        ? this.publicCall(route.method, req, url?.search ?? '', body)
        : this.privateCall(route.method, req, url?.pathname ?? '', body, arrivedAt);

    switch (fault) {
      case 'accept-then-drop':
        req.socket.destroy();
        return;
      case 'accept-then-timeout':
        this.hold(req);
        return;
      case 'html-5xx-placed':
        sendHtml(res, 520, 'Web server is returning an unknown error');
        return;
      default:
        sendJson(res, 200, outcome);
    }
  }

  private route(method: string, pathname: string): Route {
    const match = PATH.exec(pathname);
    if (!match) return { kind: 'unknown', status: 404, label: 'unknown-path' };
    const [, scope, name = ''] = match;
    if (scope === 'public' && PUBLIC_METHODS.has(name) && (method === 'GET' || method === 'POST')) return { kind: 'public', method: name };
    if (scope === 'private' && PRIVATE_METHODS.has(name) && method === 'POST') return { kind: 'private', method: name };
    return { kind: 'unknown', status: 200, label: name };
  }

  /** Faults that answer (or drop) without processing. */
  private answeredBeforeProcessing(fault: FaultKind | undefined, req: IncomingMessage, res: ServerResponse): boolean {
    switch (fault) {
      case 'drop-before-accept':
        req.socket.destroy();
        return true;
      case 'html-5xx-not-placed':
        sendHtml(res, 502, 'Bad gateway');
        return true;
      case 'service-unavailable':
        sendJson(res, 200, failure('EService:Unavailable'));
        return true;
      case 'service-busy':
        sendJson(res, 200, failure('EService:Busy'));
        return true;
      case 'invalid-nonce':
        sendJson(res, 200, failure('EAPI:Invalid nonce'));
        return true;
      case 'temporary-lockout':
        sendJson(res, 200, failure('EGeneral:Temporary lockout'));
        return true;
      case 'rest-rate-limit':
        sendJson(res, 200, failure('EAPI:Rate limit exceeded'));
        return true;
      case 'trading-rate-limit':
        sendJson(res, 200, failure('EOrder:Rate limit exceeded'));
        return true;
      default:
        return false;
    }
  }

  private publicCall(method: string, req: IncomingMessage, search: string, body: string): Outcome {
    const params = req.method === 'POST' && body !== '' ? parseBody(req, body) : Params.fromQuery(search);
    if (!params) return failure('EGeneral:Invalid arguments');
    const now = this.catchUp();
    // Charged on arrival like Kraken's counters; answered as Kraken does, in the body of an HTTP 200.
    if (!this.venue.publicBudget(req.socket.remoteAddress ?? 'unknown').tryCharge({ rest: 0, public: 1 }, now)) {
      this.venue.rateLimitErrors.public += 1;
      return failure('EAPI:Rate limit exceeded');
    }
    return callPublic(method, params, this.venue.catalogue, this.venue.market, now, this.venue.systemStatus);
  }

  private privateCall(method: string, req: IncomingMessage, path: string, body: string, arrivedAt: number): Outcome {
    const params = parseBody(req, body);
    if (!params) return failure('EAPI:Bad request');
    const now = this.catchUp();
    const auth = this.auth.verify(
      { apiKey: header(req, 'api-key'), apiSign: header(req, 'api-sign'), path, nonceText: params.nonceText, body },
      now,
    );
    if (!auth.ok) return failure(auth.error);
    return dispatchPrivate(this.venue, method, params, { apiKey: auth.apiKey, arrivedAt, now });
  }

  private catchUp(): number {
    const now = this.venue.now();
    this.venue.catchUp(now);
    return now;
  }

  /** `accept-then-timeout`: the answer is never sent; the socket is held, then destroyed. */
  private hold(req: IncomingMessage): void {
    const timer = this.timers.setTimeout(() => {
      this.pending.delete(timer);
      req.socket.destroy();
    }, this.faults.timeoutHoldMs);
    this.pending.add(timer);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = this.timers.setTimeout(() => {
        this.pending.delete(timer);
        resolve();
      }, ms);
      this.pending.add(timer);
    });
  }

  private count(name: string): void {
    this.traffic.requests.set(name, (this.traffic.requests.get(name) ?? 0) + 1);
  }
}

const UNPARSABLE: Route = { kind: 'unknown', status: 400, label: 'unparsable-path' };

function parseUrl(raw: string | undefined): URL | undefined {
  try {
    return new URL(raw ?? '/', 'http://127.0.0.1');
  } catch {
    return undefined;
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Kraken reads JSON when the client says so, form encoding otherwise. */
function parseBody(req: IncomingMessage, body: string): Params | undefined {
  const type = header(req, 'content-type') ?? '';
  if (type.toLowerCase().includes('application/json')) return Params.fromJson(body);
  return Params.fromForm(body);
}

function sendJson(res: ServerResponse, status: number, outcome: Outcome): void {
  if (res.headersSent || res.destroyed) return;
  const envelope = outcome.ok ? { error: [], result: outcome.result } : { error: [outcome.error] };
  const text = JSON.stringify(envelope);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** A Cloudflare-style error page, as clients see when the edge cannot reach (or hear back from) Kraken. */
function sendHtml(res: ServerResponse, status: number, title: string): void {
  if (res.headersSent || res.destroyed) return;
  const page =
    `<!DOCTYPE html>\n<html lang="en-US"><head><title>api.kraken.com | ${status}: ${title}</title></head>` +
    `<body><div id="cf-error-details"><h1>${title}</h1><span>Error code ${status}</span>` +
    `<p>Visit cloudflare.com for more information.</p><p>Cloudflare Ray ID: 7d2f0c0e9a1b2c3d</p></div></body></html>\n`;
  res.writeHead(status, { 'content-type': 'text/html; charset=UTF-8', 'content-length': Buffer.byteLength(page), connection: 'close' });
  res.end(page);
}
