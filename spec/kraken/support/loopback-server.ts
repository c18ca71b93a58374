import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { ExchangeError } from '../../../src/model/errors';

/** One request as the loopback server saw it. */
export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
  readonly receivedAt: number;
  /** Set when the response was sent or the connection went away. */
  finishedAt?: number;
  /** True when the client went away before a response was sent. */
  aborted: boolean;
  /** Resolves when the response was sent or the connection went away (whichever came first). */
  readonly finished: Promise<void>;
}

export type Handler = (request: SeenRequest, res: ServerResponse, req: IncomingMessage) => void;

/** A tiny HTTP server on 127.0.0.1 with an ephemeral port, whose behaviour each test sets. */
export class LoopbackServer {
  readonly requests: SeenRequest[] = [];
  handler: Handler = (_request, res) => json(res, { error: [], result: {} });
  private readonly server: Server;
  private readonly arrivalWaiters: Array<{ count: number; resolve: () => void }> = [];

  private constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        let finish!: () => void;
        const seen: SeenRequest = {
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          receivedAt: performance.now(),
          aborted: false,
          finished: new Promise<void>((resolve) => (finish = resolve)),
        };
        this.requests.push(seen);
        res.on('close', () => {
          seen.finishedAt = performance.now();
          if (!res.writableFinished) seen.aborted = true;
          finish();
        });
        this.notifyArrivals();
        this.handler(seen, res, req);
      });
    });
  }

  static async start(): Promise<LoopbackServer> {
    const instance = new LoopbackServer();
    await new Promise<void>((resolve) => instance.server.listen(0, '127.0.0.1', resolve));
    return instance;
  }

  get url(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  /** Resolves once `count` requests in all have arrived. */
  arrivals(count: number): Promise<void> {
    if (this.requests.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.arrivalWaiters.push({ count, resolve }));
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private notifyArrivals(): void {
    for (const waiter of [...this.arrivalWaiters]) {
      if (this.requests.length >= waiter.count) {
        this.arrivalWaiters.splice(this.arrivalWaiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  }
}

export const json = (res: ServerResponse, body: unknown, status = 200): void => {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
};

export const html = (res: ServerResponse, status: number, headers: Record<string, string> = {}): void => {
  res.writeHead(status, { 'Content-Type': 'text/html', ...headers });
  res.end(`<html><head><title>${status} Bad Gateway</title></head><body>cloudflare</body></html>`);
};


/** The ExchangeError a call failed with; fails the test when it succeeded or failed otherwise. */
export const errorOf = async (promise: Promise<unknown>): Promise<ExchangeError> => {
  try {
    await promise;
  } catch (e) {
    if (e instanceof ExchangeError) return e;
    throw e;
  }
  throw new Error('expected an ExchangeError');
};

/** A handler that answers like Kraken from a table of results by method name, `EGeneral:Unknown method` otherwise. */
export const answerFrom =
  (results: Readonly<Record<string, unknown>>): Handler =>
  (request, res) => {
    const method = request.url.split('?')[0]!.split('/').pop()!;
    json(res, method in results ? { error: [], result: results[method] } : { error: ['EGeneral:Unknown method'] });
  };
