import { type IncomingMessage } from 'node:http';
import { Observable } from 'rxjs';
import WebSocket from 'ws';
import { type LinkTracker, UNTRACKED } from '../time/link-tracker';

/** What one WebSocket connection does, as values. */
export type SocketEvent =
  /** Connected: frames can be sent (until the socket closes). */
  | { readonly type: 'open'; readonly send: (text: string) => void }
  | { readonly type: 'message'; readonly text: string }
  /** Closed, by either end or because it never opened (1006: no close frame). Always the last event. */
  | { readonly type: 'closed'; readonly code: number; readonly reason: string };

/**
 * Opens WebSocket connections: each subscription is one connection, which emits `open`, then `message`s, then
 * `closed` and completes. Unsubscribing closes it at once (no close handshake to wait for). The client's port,
 * so its state machine can be tested against a fake in virtual time.
 */
export type WsConnector = (url: string) => Observable<SocketEvent>;

/** Kraken's close frames are small; anything far larger is not Kraken. */
const MAX_FRAME_BYTES = 4 * 1024 * 1024;

/**
 * The `ws` package behind `WsConnector`. Each frame is reported to `links` (an idle clock's, in end-to-end runs):
 * a received frame stops counting once the subscriber has handled it, so whatever it sent in reply is counted
 * first; the connection being opened is held until it opens or fails.
 */
export function wsConnector(links: LinkTracker = UNTRACKED): WsConnector {
  return (url) =>
    new Observable<SocketEvent>((subscriber) => {
      const release = links.hold();
      let link: string | undefined;
      let ended = false;
      const end = (): void => {
        if (ended) return;
        ended = true;
        if (link !== undefined) links.ended(link);
      };
      const socket = new WebSocket(url, { maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false });
      socket.on('upgrade', (response: IncomingMessage) => {
        link = String(response.socket.localPort);
      });
      socket.on('open', () => {
        release();
        subscriber.next({
          type: 'open',
          send: (text) => {
            if (socket.readyState !== WebSocket.OPEN || link === undefined) return;
            links.sent(link);
            socket.send(text);
          },
        });
      });
      socket.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
        try {
          if (!isBinary) subscriber.next({ type: 'message', text: rawText(data) });
        } finally {
          if (link !== undefined) links.received(link);
        }
      });
      socket.on('error', () => {
        // 'close' follows with the code; the error's text (which may echo the URL) is not kept.
      });
      socket.on('close', (code: number, reason: Buffer) => {
        end();
        release();
        subscriber.next({ type: 'closed', code, reason: reason.toString('utf8').slice(0, 120) });
        subscriber.complete();
      });
      return () => {
        if (socket.readyState === WebSocket.CLOSED) return;
        // This end closes: the link is closing until the server has seen it.
        end();
        release();
        socket.terminate();
      };
    });
}

function rawText(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}
