import { success, type Outcome } from './public-api';
import { type Venue } from './venue';
import { WS_TOKEN_TTL_MS } from './ws-tokens';

/** GetWebSocketsToken: a token for the WebSocket API's private requests, `expires` in seconds (kraken-api.md §4.8). */
export function getWebSocketsToken(venue: Venue, apiKey: string, now: number): Outcome {
  return success({ token: venue.wsTokens.issue(apiKey, now), expires: WS_TOKEN_TTL_MS / 1000 });
}
