import { Observable, type SchedulerLike } from 'rxjs';
import { type SocketEvent, type WsConnector } from '../../../src/kraken/ws-socket';

/** A frame the client sent, as JSON. */
export interface SentFrame {
  readonly method: string;
  readonly req_id?: number;
  readonly params?: Record<string, unknown>;
}

/** One fake connection: the test plays Kraken's side, on the test's scheduler (1 ms of "network" per frame). */
export class FakeSocket {
  readonly sent: SentFrame[] = [];
  closedByClient = false;
  private sequence = 0;

  constructor(
    readonly index: number,
    private readonly deliver: (event: SocketEvent) => void,
    private readonly scheduler: SchedulerLike,
  ) {}

  /** A frame from the server, arriving `delay` ms from now. */
  push(frame: object | string, delay = 1): void {
    const text = typeof frame === 'string' ? frame : JSON.stringify(frame);
    this.scheduler.schedule(() => this.deliver({ type: 'message', text }), delay);
  }

  /** An `executions` frame with the next sequence number (plus `skip`). */
  executions(type: 'snapshot' | 'update', data: readonly object[], skip = 0, delay = 1): void {
    this.sequence += 1 + skip;
    this.push({ channel: 'executions', type, data, sequence: this.sequence }, delay);
  }

  answer(reqId: number | undefined, method: string, result: object, delay = 1): void {
    this.push({ method, req_id: reqId, result, success: true, time_in: 't', time_out: 't' }, delay);
  }

  refuse(reqId: number | undefined, method: string, error: string, delay = 1): void {
    this.push({ error, method, req_id: reqId, success: false, time_in: 't', time_out: 't' }, delay);
  }

  close(code: number, delay = 1): void {
    this.scheduler.schedule(() => this.deliver({ type: 'closed', code, reason: '' }), delay);
  }

  /** The last frame sent with this method. */
  last(method: string): SentFrame {
    const frame = [...this.sent].reverse().find((f) => f.method === method);
    if (!frame) throw new Error(`socket ${this.index} sent no ${method}`);
    return frame;
  }
}

export interface FakeBehaviour {
  /** On open; default: Kraken's `status` frame. */
  onOpen(socket: FakeSocket): void;
  /** For each frame the client sends; default: acknowledge subscriptions, send the executions snapshot. */
  onFrame(socket: FakeSocket, frame: SentFrame): void;
}

/** A Kraken WS v2 endpoint played by the test: every connection the client opens is a `FakeSocket`. */
export class FakeKraken {
  readonly sockets: FakeSocket[] = [];
  /** When each connection was asked for (scheduler time). */
  readonly connectedAt: number[] = [];
  behaviour: FakeBehaviour = {
    onOpen: (socket) => socket.push({ channel: 'status', type: 'update', data: [{ api_version: 'v2', connection_id: 1, system: 'online', version: '2.0.4' }] }),
    onFrame: (socket, frame) => this.acknowledge(socket, frame),
  };

  constructor(private readonly scheduler: SchedulerLike) {}

  readonly connector: WsConnector = () =>
    new Observable<SocketEvent>((subscriber) => {
      let closed = false;
      const socket = new FakeSocket(this.sockets.length, (event) => {
        if (closed) return;
        subscriber.next(event);
        if (event.type === 'closed') {
          closed = true;
          subscriber.complete();
        }
      }, this.scheduler);
      this.sockets.push(socket);
      this.connectedAt.push(this.scheduler.now());
      const opening = this.scheduler.schedule(() => {
        // Kraken speaks first: its status frame is on the way before the client can send anything.
        this.behaviour.onOpen(socket);
        subscriber.next({
          type: 'open',
          send: (text) => {
            const frame = JSON.parse(text) as SentFrame;
            socket.sent.push(frame);
            this.behaviour.onFrame(socket, frame);
          },
        });
      }, 1);
      return () => {
        opening.unsubscribe();
        socket.closedByClient = !closed;
        closed = true;
      };
    });

  /** Kraken's acknowledgements: executions (then its snapshot), ticker once per symbol. */
  acknowledge(socket: FakeSocket, frame: SentFrame): void {
    if (frame.method !== 'subscribe') return;
    const channel = frame.params?.['channel'];
    if (channel === 'executions') {
      socket.answer(frame.req_id, 'subscribe', { channel: 'executions', maxratecount: 60, snap_orders: true, snap_trades: true });
      socket.executions('snapshot', []);
    } else if (channel === 'ticker') {
      for (const symbol of frame.params?.['symbol'] as string[]) {
        socket.answer(frame.req_id, 'subscribe', { channel: 'ticker', event_trigger: 'trades', snapshot: true, symbol });
      }
    }
  }
}
