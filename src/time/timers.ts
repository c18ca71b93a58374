/**
 * One-shot timers as a port, for the code that waits outside RxJS (the HTTP transport's request timeout, the
 * paper exchange's held answers and injected latency). Production passes the real ones; an end-to-end run
 * passes an `IdleClock`'s, so that waiting is virtual while the I/O stays real.
 */
export interface Timers {
  /** Calls `callback` once after `ms` (clock ms); the handle cancels it. */
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** Opaque: only the `Timers` that made it can clear it. */
export interface TimerHandle {
  readonly __timer: unique symbol;
}

/**
 * Node's own timers: the default everywhere. Unreferenced: each one waits on behalf of a socket or a server
 * that keeps the process alive by itself, and must not keep it alive after those are gone.
 */
export const realTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref() as unknown as TimerHandle,
  clearTimeout: (handle) => clearTimeout(handle as unknown as ReturnType<typeof setTimeout>),
};
