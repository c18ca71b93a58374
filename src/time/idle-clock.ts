import { type SchedulerAction, type SchedulerLike, Subscription } from 'rxjs';
import { type LinkTracker } from './link-tracker';
import { type TimerHandle, type Timers } from './timers';

/** Where an idle clock starts unless told otherwise: a fixed instant, so runs repeat exactly. */
export const IDLE_CLOCK_ORIGIN = Date.UTC(2026, 0, 5, 9, 0, 0);

/** @internal A timer on the clock (exported for the scheduler's actions only). */
export interface TimerEntry {
  readonly due: number;
  readonly seq: number;
  readonly run: () => void;
  cancelled: boolean;
}

type IoState = 'queued' | 'active' | 'parked' | 'aborting' | 'done';

interface Io {
  state: IoState;
  readonly start: () => void;
}

const macrotask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * A virtual clock for end-to-end runs whose time jumps to the next due timer only when nothing is in flight.
 *
 * Intuition: real sockets, virtual waiting. The handler and an in-process paper exchange share this clock; every
 * loopback request is run through `io()`, and the clock stands still while one is being served, then jumps
 * straight to the next timer (a poll, a back-off, a cool-down's end, a held answer) once the loopback is idle.
 *
 *   real:     [req]--[req]-[req]------------[req]      (as fast as the machine serves them)
 *   virtual:  t=0    t=0   t=0  jump→ t=3031 t=3031     (waits are exact; load changes nothing)
 *
 * Requests are served one at a time in the order they were issued, so the exchange sees the same sequence in
 * every run (fault draws by arrival order included). A request the exchange holds on a timer (`waitTimers`:
 * injected latency, an answer held until the client gives up) is parked and lets the next one go; one whose
 * client gave up (its `AbortSignal`) counts as in flight until the client has seen the failure.
 *
 * Long-lived links (WebSocket frames between an in-process client and the paper exchange) are counted through
 * `links`: the clock does not move while a frame is sent and not yet handled, while a connection is being opened,
 * or while a link has closed at one end and the other end has not seen it yet.
 *
 * Time moves only inside `runUntil` / `advance`: between them a test's own steps happen at one instant.
 * A timer callback that throws fails the `runUntil` that ran it.
 */
export class IdleClock implements SchedulerLike {
  private current: number;
  private sequence = 0;
  private readonly heap: TimerEntry[] = [];
  private readonly ios: Io[] = [];
  private active: Io | null = null;
  private aborting = 0;
  /** Bumped on every scheduling and I/O event: settling waits until it stops moving. */
  private changes = 0;
  private idleWaiters: Array<() => void> = [];
  private failure: { readonly error: unknown } | undefined;
  private readonly linkStates = new Map<string, { frames: number; ends: number }>();
  private holds = 0;

  constructor(origin: number = IDLE_CLOCK_ORIGIN) {
    this.current = origin;
  }

  now(): number {
    return this.current;
  }

  schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay = 0, state?: T): Subscription {
    return new IdleAction(this, work).schedule(state, delay);
  }

  /** Timers on this clock, for code that waits outside RxJS (the transport's request timeout). */
  readonly timers: Timers = {
    setTimeout: (callback, ms) => this.enqueue(ms, callback) as unknown as TimerHandle,
    clearTimeout: (handle) => this.cancel(handle as unknown as TimerEntry),
  };

  /**
   * Timers for a server that makes a request wait (the paper exchange's latency and held answers): the request
   * being served when the timer is set is parked, so the clock may move on, and is served again when it fires.
   */
  readonly waitTimers: Timers = {
    setTimeout: (callback, ms) => {
      const io = this.active;
      if (io) this.park(io);
      return this.enqueue(ms, () => {
        if (io) this.resume(io);
        callback();
      }) as unknown as TimerHandle;
    },
    clearTimeout: (handle) => this.cancel(handle as unknown as TimerEntry),
  };

  /** Frames in flight on WebSocket links (see `LinkTracker`); pass it to both the client and the server. */
  readonly links: LinkTracker = {
    sent: (link) => {
      this.linkState(link).frames += 1;
      this.touch();
    },
    received: (link) => {
      const state = this.linkStates.get(link);
      if (state && state.frames > 0) state.frames -= 1;
      this.linkChanged();
    },
    ended: (link) => {
      const state = this.linkState(link);
      state.ends += 1;
      // Both ends know: whatever was still counted on it was lost with it.
      if (state.ends >= 2) this.linkStates.delete(link);
      this.linkChanged();
    },
    hold: () => {
      this.holds += 1;
      this.touch();
      let released = false;
      return () => {
        if (released) return;
        released = true;
        this.holds -= 1;
        this.linkChanged();
      };
    },
  };

  /**
   * Runs one loopback request: it starts when no other request is being served, and the clock does not move
   * until it has settled (or is parked by the server). `signal` is the request's abort signal: an abort makes
   * the clock wait for the client to see it.
   */
  io<T>(start: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const io: Io = {
        state: 'queued',
        start: () => {
          const onAbort = (): void => {
            if (io.state !== 'parked') return;
            io.state = 'aborting';
            this.aborting += 1;
            this.touch();
          };
          signal?.addEventListener('abort', onAbort, { once: true });
          new Promise<T>((inner) => inner(start()))
            .then(resolve, reject)
            .finally(() => {
              signal?.removeEventListener('abort', onAbort);
              this.finish(io);
            });
        },
      };
      this.ios.push(io);
      this.touch();
      this.pump();
    });
  }

  /**
   * Lets time pass until `done()` holds, running every timer that falls due, or until `limitMs` have passed.
   * Resolves `true` when `done()` held, `false` when the limit came first (or nothing was left to happen).
   */
  async runUntil(done: () => boolean, limitMs: number): Promise<boolean> {
    const limit = this.current + limitMs;
    for (;;) {
      await this.settle();
      if (done()) return true;
      const next = this.nextDue();
      if (next === undefined || next > limit) return false;
      this.current = next;
    }
  }

  /**
   * Lets time pass until `promise` settles, then resolves or rejects as it did; rejects with a `RangeError` when
   * it is still pending after `limitMs` (or when nothing is left that could settle it).
   */
  async drive<T>(promise: Promise<T>, limitMs: number): Promise<T> {
    let settled = false;
    const watched = promise.finally(() => {
      settled = true;
    });
    watched.catch(() => undefined);
    const from = this.current;
    if (!(await this.runUntil(() => settled, limitMs))) {
      throw new RangeError(`still pending after ${this.current - from} clock ms (limit ${limitMs})`);
    }
    return watched;
  }

  /** Lets exactly `ms` pass, running every timer due on the way, and settles at the end. */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    await this.runUntil(() => false, ms);
    this.current = Math.max(this.current, target);
    await this.settle();
  }

  /** Waits until nothing is due now, no request is in flight, and a few turns of the event loop changed nothing. */
  async settle(): Promise<void> {
    for (;;) {
      this.runDue();
      if (this.busy()) {
        await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
        continue;
      }
      const before = this.changes;
      await macrotask();
      await macrotask();
      this.throwIfFailed();
      if (this.changes === before && !this.busy() && !this.hasDue()) return;
    }
  }

  /** Timers still pending (for a test that checks a finished run left none). */
  pendingTimers(): number {
    return this.heap.filter((e) => !e.cancelled).length;
  }

  // ── timers ───────────────────────────────────────────────────────────────

  /** @internal used by the scheduler's actions */
  enqueue(delay: number, run: () => void): TimerEntry {
    const entry: TimerEntry = { due: this.current + Math.max(0, delay), seq: this.sequence++, run, cancelled: false };
    heapPush(this.heap, entry);
    this.touch();
    return entry;
  }

  /** @internal */
  cancel(entry: TimerEntry): void {
    entry.cancelled = true;
  }

  private nextDue(): number | undefined {
    this.dropCancelled();
    return this.heap[0]?.due;
  }

  private hasDue(): boolean {
    const next = this.nextDue();
    return next !== undefined && next <= this.current;
  }

  private dropCancelled(): void {
    while (this.heap[0]?.cancelled) heapPop(this.heap);
  }

  private runDue(): void {
    this.throwIfFailed();
    for (;;) {
      this.dropCancelled();
      const top = this.heap[0];
      if (!top || top.due > this.current) return;
      heapPop(this.heap);
      try {
        top.run();
      } catch (error) {
        this.failure ??= { error };
      }
      this.throwIfFailed();
    }
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure.error;
  }

  // ── loopback I/O ─────────────────────────────────────────────────────────

  private busy(): boolean {
    return this.active !== null || this.aborting > 0 || this.ios.length > 0 || this.linksBusy();
  }

  private linksBusy(): boolean {
    if (this.holds > 0) return true;
    for (const state of this.linkStates.values()) if (state.frames > 0 || state.ends === 1) return true;
    return false;
  }

  private linkState(link: string): { frames: number; ends: number } {
    let state = this.linkStates.get(link);
    if (!state) {
      state = { frames: 0, ends: 0 };
      this.linkStates.set(link, state);
    }
    return state;
  }

  private linkChanged(): void {
    this.touch();
    if (!this.busy()) this.wakeIdleWaiters();
  }

  private pump(): void {
    if (this.active !== null) return;
    const next = this.ios.shift();
    if (!next) {
      if (!this.busy()) this.wakeIdleWaiters();
      return;
    }
    next.state = 'active';
    this.active = next;
    this.touch();
    next.start();
  }

  private park(io: Io): void {
    if (io !== this.active) return;
    io.state = 'parked';
    this.active = null;
    this.touch();
    this.pump();
  }

  private resume(io: Io): void {
    if (io.state !== 'parked') return;
    if (this.active === null) {
      io.state = 'active';
      this.active = io;
    } else {
      // Served next: it was issued before anything still queued.
      io.state = 'queued';
      this.ios.unshift(io);
    }
    this.touch();
  }

  private finish(io: Io): void {
    if (io.state === 'aborting') this.aborting -= 1;
    if (this.active === io) this.active = null;
    const queued = this.ios.indexOf(io);
    if (queued >= 0) this.ios.splice(queued, 1);
    io.state = 'done';
    this.touch();
    this.pump();
  }

  private wakeIdleWaiters(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }

  private touch(): void {
    this.changes += 1;
  }
}

class IdleAction<T> extends Subscription implements SchedulerAction<T> {
  private entry: TimerEntry | undefined;

  constructor(
    private readonly clock: IdleClock,
    private readonly work: (this: SchedulerAction<T>, state?: T) => void,
  ) {
    super(() => this.clearEntry());
  }

  schedule(state?: T, delay = 0): Subscription {
    if (this.closed) return this;
    this.clearEntry();
    this.entry = this.clock.enqueue(delay, () => {
      this.entry = undefined;
      this.work.call(this, state);
      // An action that did not reschedule itself is done.
      if (this.entry === undefined) this.unsubscribe();
    });
    return this;
  }

  private clearEntry(): void {
    if (this.entry) this.clock.cancel(this.entry);
    this.entry = undefined;
  }
}

// A binary min-heap on (due, seq): timers due at the same instant run in the order they were set.
const before = (a: TimerEntry, b: TimerEntry): boolean => a.due < b.due || (a.due === b.due && a.seq < b.seq);

function heapPush(heap: TimerEntry[], entry: TimerEntry): void {
  heap.push(entry);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (!before(heap[i] as TimerEntry, heap[parent] as TimerEntry)) break;
    [heap[i], heap[parent]] = [heap[parent] as TimerEntry, heap[i] as TimerEntry];
    i = parent;
  }
}

function heapPop(heap: TimerEntry[]): TimerEntry | undefined {
  const top = heap[0];
  const last = heap.pop();
  if (heap.length === 0 || last === undefined) return top;
  heap[0] = last;
  let i = 0;
  for (;;) {
    const left = 2 * i + 1;
    const right = left + 1;
    let least = i;
    if (left < heap.length && before(heap[left] as TimerEntry, heap[least] as TimerEntry)) least = left;
    if (right < heap.length && before(heap[right] as TimerEntry, heap[least] as TimerEntry)) least = right;
    if (least === i) return top;
    [heap[i], heap[least]] = [heap[least] as TimerEntry, heap[i] as TimerEntry];
    i = least;
  }
}
