/**
 * Counts what is in flight on long-lived loopback links (WebSocket frames), for a clock that must not move while
 * a frame is on its way. Request/response I/O goes through `IdleClock.io`; a socket has no "response", so each
 * end reports its own frames instead: the sender when it hands a frame over, the receiver once it has handled it
 * (synchronously, so any frame it sends in reply is counted before this one stops counting).
 *
 * A link is named by both ends alike (the client's local port on 127.0.0.1 is what the server sees as the remote
 * port). A closing link counts as in flight until both ends have seen it close: the end that did not close it
 * must learn of it before time moves on (its reconnect timer is set then). Frames still counted on a link both
 * ends saw close were lost with it.
 */
export interface LinkTracker {
  /** A frame was handed to the socket on `link`. */
  sent(link: string): void;
  /** A frame on `link` has been received and handled. */
  received(link: string): void;
  /** One end saw `link` close. */
  ended(link: string): void;
  /** Something that is not yet a link (a connection being opened) is in flight until `release` is called once. */
  hold(): () => void;
}

/** For production and for tests on real time: nothing to count. */
export const UNTRACKED: LinkTracker = {
  sent: () => undefined,
  received: () => undefined,
  ended: () => undefined,
  hold: () => () => undefined,
};
