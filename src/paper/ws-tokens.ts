import { SeededRandom } from './random';

/** Kraken's lifetime of an unused WebSocket token (kraken-api.md §4.8: "must be used within 15 min"). */
export const WS_TOKEN_TTL_MS = 15 * 60_000;

interface TokenState {
  readonly apiKey: string;
  /** Epoch ms it was issued, or last stopped being used by a connection. */
  idleSince: number;
  /** Open connections holding a private subscription made with it. */
  holders: number;
}

/**
 * GetWebSocketsToken's tokens. A token expires when it has been unused for 15 minutes; while a connection holds
 * a private subscription made with it, it does not expire (Kraken: "does not expire while maintained"), and the
 * 15 minutes start again when the last such connection closes.
 */
export class WsTokens {
  private readonly tokens = new Map<string, TokenState>();
  private readonly random: SeededRandom;

  constructor(seed: number) {
    this.random = SeededRandom.derive(seed, 'ws-tokens');
  }

  issue(apiKey: string, now: number): string {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    let token = '';
    for (let i = 0; i < 43; i++) token += alphabet.charAt(this.random.int(alphabet.length));
    this.tokens.set(token, { apiKey, idleSince: now, holders: 0 });
    this.forgetExpired(now);
    return token;
  }

  /** The key a token was issued to, if it is still valid at `now`. */
  keyOf(token: string, now: number): string | undefined {
    const state = this.tokens.get(token);
    if (!state) return undefined;
    if (state.holders === 0 && now - state.idleSince >= WS_TOKEN_TTL_MS) {
      this.tokens.delete(token);
      return undefined;
    }
    return state.apiKey;
  }

  /** A connection subscribed privately with `token`; call the returned function when it closes. */
  hold(token: string): (now: number) => void {
    const state = this.tokens.get(token);
    if (!state) return () => undefined;
    state.holders += 1;
    let released = false;
    return (now) => {
      if (released) return;
      released = true;
      state.holders -= 1;
      if (state.holders === 0) state.idleSince = now;
    };
  }

  private forgetExpired(now: number): void {
    for (const [token, state] of this.tokens) {
      if (state.holders === 0 && now - state.idleSince >= WS_TOKEN_TTL_MS) this.tokens.delete(token);
    }
  }
}
