import { type Subscription } from 'rxjs';
import { JsonNumber, parseExactJson } from '../../src/kraken/ws-json';
import { type SocketEvent, wsConnector } from '../../src/kraken/ws-socket';
import { type PaperExchange, type PaperOptions, startPaperExchange } from '../../src/paper';
import { IdleClock } from '../../src/time/idle-clock';
import { TestClient } from './harness';

/** A frame as the tests read it: JSON with numbers as their literal text (so exactness can be asserted). */
export type Frame = Record<string, unknown>;

/** JSON numbers become their text: `{"last_qty":0.01}` reads as `{ last_qty: '#0.01' }`. */
function readable(value: unknown): unknown {
  if (value instanceof JsonNumber) return `#${value.text}`;
  if (Array.isArray(value)) return value.map(readable);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, readable(v)]));
  return value;
}

/**
 * A bare WebSocket client on the idle clock (the `ws` connector, reporting its frames to the clock's links), for
 * asserting the paper exchange's frames as Kraken writes them.
 */
export class WsProbe {
  readonly frames: Frame[] = [];
  /** Clock ms each frame arrived at. */
  readonly arrivedAt: number[] = [];
  closed: { code: number; at: number } | undefined;
  private send: ((text: string) => void) | undefined;
  private readonly subscription: Subscription;

  constructor(
    url: string,
    private readonly clock: IdleClock,
  ) {
    this.subscription = wsConnector(clock.links)(url).subscribe((event: SocketEvent) => {
      if (event.type === 'open') this.send = event.send;
      else if (event.type === 'message') {
        this.frames.push(readable(parseExactJson(event.text)) as Frame);
        this.arrivedAt.push(clock.now());
      } else this.closed = { code: event.code, at: clock.now() };
    });
  }

  get open(): boolean {
    return this.send !== undefined && this.closed === undefined;
  }

  /** Sends a request and lets the exchange answer it (the clock does not move meanwhile). */
  async request(frame: Record<string, unknown>): Promise<void> {
    if (!this.send) throw new Error('probe: not open');
    this.send(JSON.stringify(frame));
    await this.clock.settle();
  }

  /** Sends raw text (numbers written as the test wants them). */
  async requestText(text: string): Promise<void> {
    if (!this.send) throw new Error('probe: not open');
    this.send(text);
    await this.clock.settle();
  }

  /** Frames since `from`, without heartbeats. */
  since(from: number): Frame[] {
    return this.frames.slice(from).filter((f) => f['channel'] !== 'heartbeat');
  }

  of(channel: string): Frame[] {
    return this.frames.filter((f) => f['channel'] === channel);
  }

  answers(method: string): Frame[] {
    return this.frames.filter((f) => f['method'] === method);
  }

  close(): void {
    this.subscription.unsubscribe();
  }
}

/** A paper exchange on an idle clock with its WebSocket frames tracked, a REST client, and probes. */
export async function paperWs(options: PaperOptions = {}) {
  const clock = new IdleClock();
  const exchange: PaperExchange = await startPaperExchange({
    seed: 7,
    ...options,
    clock: () => clock.now(),
    timers: clock.waitTimers,
    wsTimers: clock.timers,
    links: clock.links,
  });
  const rest = new TestClient(exchange.url, exchange, () => clock.now(), 'form', (start, signal) => clock.io(start, signal));
  const probes: WsProbe[] = [];
  const connect = async (): Promise<WsProbe> => {
    const probe = new WsProbe(exchange.wsUrl, clock);
    probes.push(probe);
    await clock.settle();
    if (!probe.open) throw new Error('probe did not connect');
    return probe;
  };
  const token = async (): Promise<string> => {
    const envelope = await rest.private('GetWebSocketsToken');
    const token = envelope.result?.['token'];
    if (typeof token !== 'string') throw new Error(`no token: ${envelope.error.join(', ')}`);
    return token;
  };
  const close = async (): Promise<void> => {
    for (const probe of probes) probe.close();
    await exchange.close();
  };
  return { clock, exchange, rest, connect, token, close };
}
