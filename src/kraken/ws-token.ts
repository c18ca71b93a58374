import { type Observable, defer } from 'rxjs';
import { type FeedCallGate } from '../model/feed';

/**
 * The feed's tokens (GetWebSocketsToken, a private REST call): each `token()` asks for a fresh one, through the
 * latest gate a run installed (its rate gate and circuit breaker, so a failing token call is counted and charged
 * like any private call), or straight through the client while none is.
 *
 * guards:   ──[run A]──────────[ ]──
 * token():  ──t─────t────────t──────   (t through A's gate while A is installed, then straight)
 */
export class WsTokenSource {
  private readonly gates: FeedCallGate[] = [];

  /** @param fetch one GetWebSocketsToken call (the REST client's), emitting the token */
  constructor(private readonly fetch: () => Observable<string>) {}

  /** A fresh token, through the latest gate installed when subscribed. */
  readonly token = (): Observable<string> =>
    defer(() => {
      const gate = this.gates.at(-1);
      return gate ? gate({ kind: 'webSocketsToken' }, this.fetch) : this.fetch();
    });

  /** Installs `gate` until the returned function is called (calling it again does nothing). */
  guardCalls(gate: FeedCallGate): () => void {
    const entry: FeedCallGate = (call, send) => gate(call, send);
    this.gates.push(entry);
    return () => {
      const index = this.gates.indexOf(entry);
      if (index >= 0) this.gates.splice(index, 1);
    };
  }
}
