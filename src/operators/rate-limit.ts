import {
  type MonoTypeOperatorFunction,
  Observable,
  type SchedulerLike,
  type Subscription,
  asyncScheduler,
  concatMap,
  map,
} from 'rxjs';
import { type RateBudget, type RateCost } from '../model/budget';

/**
 * Priority lanes, highest first. Closing a position, then protecting one (a stop-loss placed after a fill), then
 * cancels, then the monitor that detects fills (which protection waits for), then lookups of ambiguous placements
 * (entries, protective orders and exits alike: a lookup polls until its deadline, and above the monitor it starved it),
 * then new entries: what guards money already at risk goes before what resolves or adds risk, so a lookup or a
 * burst of entries never delays a stop.
 */
export type Lane = 'close' | 'protect' | 'cancel' | 'monitor' | 'lookup' | 'place';

const LANE_RANK: Readonly<Record<Lane, number>> = { close: 0, protect: 1, cancel: 2, monitor: 3, lookup: 4, place: 5 };

interface QueuedRequest {
  readonly cost: RateCost;
  readonly rank: number;
  readonly seq: number;
  /** The budget counters the cost touches; requests on disjoint counters cannot delay each other. */
  readonly counters: readonly string[];
  /** Goes only when no other exclusive call is in flight, and holds the slot until it ends. */
  readonly exclusive: boolean;
  readonly grant: () => void;
  readonly fail: (error: Error) => void;
}

const countersOf = (cost: RateCost): readonly string[] => [
  ...(cost.rest > 0 ? ['rest'] : []),
  ...(cost.trading && cost.trading.units > 0 ? [`trading:${cost.trading.pair}`] : []),
  ...(cost.public ? ['public'] : []),
];

/** How `RateGate.run` treats a call. */
export interface RunOptions {
  /**
   * The call takes the gate's one private-call slot: it is released (and charged) only when no other exclusive
   * call is in flight, and holds the slot until it ends. For calls the exchange serialises on one queue per
   * key (Kraken's private calls), so that the moment of the charge is the moment the call is really sent.
   */
  readonly exclusive?: boolean;
}

const disjoint = (counters: readonly string[], blocked: ReadonlySet<string>): boolean =>
  counters.every((counter) => !blocked.has(counter));

/**
 * Holds calls until a rate-budget model says they fit, then charges them: one gate per API key, shared by
 * every stream that calls the exchange.
 *
 * Intuition: a ticket counter with priority lanes; the clerk only serves whoever the budget lets through.
 *
 * Order: requests queue by lane (`close` > `protect` > `cancel` > `monitor` > `lookup` > `place`), FIFO within a lane. A queued
 * request is served as soon as it fits, unless an earlier request (by that order) that touches one of the
 * same counters is still waiting: so a placement waiting on one pair's trading counter does not hold back a
 * monitoring call on the REST counter, but a lookup never takes REST units the monitor is waiting for.
 *
 * Private-call slot (`run` with `exclusive`): the exchange client sends one private call at a time per key and
 * the exchange charges a call when it arrives. An exclusive call is released (and charged) only when no other
 * exclusive call is in flight, so the model never charges a call that is still queued in the client. The slot
 * goes to the first request (by the order above) whose cost fits when it frees: a request still waiting for
 * budget does not keep it from a call that could go now (the client's queue would not wait for it either).
 *
 * Time: `scheduler.now()` and one action on `scheduler` for the soonest wait; no action while nothing waits.
 *
 * @param budget The rate-budget model; the gate charges it (`record`) at the moment it grants a request.
 * @param scheduler Clock and timers (virtual under test).
 */
export class RateGate {
  private readonly waiting: QueuedRequest[] = [];
  private seq = 0;
  /** An exclusive call is in flight (released and not yet ended). */
  private slotTaken = false;
  private timer: Subscription | null = null;
  private pumping = false;
  private pumpAgain = false;

  constructor(
    private readonly budget: RateBudget,
    private readonly scheduler: SchedulerLike = asyncScheduler,
  ) {}

  /** Number of queued requests (for logging "waiting for rate budget"). */
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Waits for the budget to allow `cost` in `lane`.
   *
   * budget at its cap at 0 ms (starter tier: 15 units, decay 0.33/s), cost { rest: 1 }:
   * acquire(cost, 'monitor'):  3031ms (v|)      v = void: granted and charged at 3031 ms
   *
   * Cold: each subscription queues one request; it emits once (void) and completes when `cost` has been
   * charged to the budget. Unsubscribing before the grant removes it from the queue and charges nothing.
   * Errors only if the budget answers a wait that is not a finite number (the cost can never fit).
   *
   * @param cost What the call will cost on the budget's counters.
   * @param lane Its priority lane.
   * @returns A one-shot Observable of the grant.
   */
  acquire(cost: RateCost, lane: Lane): Observable<void> {
    return new Observable<void>((subscriber) => {
      const request: QueuedRequest = {
        cost,
        rank: LANE_RANK[lane],
        seq: this.seq++,
        counters: countersOf(cost),
        exclusive: false,
        grant: () => {
          subscriber.next();
          subscriber.complete();
        },
        fail: (error) => subscriber.error(error),
      };
      this.enqueue(request);
      this.pump();
      return () => {
        if (this.remove(request)) this.pump();
      };
    });
  }

  /**
   * Runs one call when the budget allows `cost` in `lane`, charging the cost at the moment the call is
   * subscribed (sent). With `exclusive`, the call also waits until no other exclusive call is in flight and
   * holds that slot until it ends, so a call is never charged while it would still wait in the exchange
   * client's private-call queue (the exchange charges on arrival, and its counter cannot go below 0).
   *
   * two exclusive calls a, b (each answers and completes after 5 ms), both asked for at 0 ms, budget with room:
   * run(cost, 'place', a, { exclusive: true }):  -----(a|)          a sent and charged at 0 ms
   * run(cost, 'place', b, { exclusive: true }):  ----------(b|)     b sent and charged at 5 ms, when a ended
   *
   * Among requests waiting for the slot, lane priority decides who goes next (FIFO within a lane). A call
   * that is not exclusive (public calls) never takes or waits for the slot.
   *
   * Cold: each subscription queues one request; emits what the call emits and completes or errors with it.
   * The slot is given back when the call completes or errors, or when the result is unsubscribed.
   * Unsubscribing before the release removes the request from the queue and charges nothing. Errors (without
   * calling) if the budget answers a wait that is not a finite number.
   *
   * @param cost What the call costs on the budget's counters.
   * @param lane Its priority lane.
   * @param call The call, subscribed once when released.
   * @param options `exclusive`: take the one private-call slot.
   * @returns The call's notifications, once released.
   */
  run<T>(cost: RateCost, lane: Lane, call: () => Observable<T>, options: RunOptions = {}): Observable<T> {
    const exclusive = options.exclusive ?? false;
    return new Observable<T>((subscriber) => {
      let running: Subscription | null = null;
      let holdsSlot = false;
      const freeSlot = (): void => {
        if (!holdsSlot) return;
        holdsSlot = false;
        this.slotTaken = false;
        this.pump();
      };
      const request: QueuedRequest = {
        cost,
        rank: LANE_RANK[lane],
        seq: this.seq++,
        counters: countersOf(cost),
        exclusive,
        grant: () => {
          if (exclusive) {
            holdsSlot = true;
            this.slotTaken = true;
          }
          let source: Observable<T>;
          try {
            source = call();
          } catch (error) {
            freeSlot();
            subscriber.error(error);
            return;
          }
          running = source.subscribe({
            next: (value) => subscriber.next(value),
            // The slot is free before the caller hears of the end, so whatever it sends next can queue for it.
            error: (error: unknown) => {
              freeSlot();
              subscriber.error(error);
            },
            complete: () => {
              freeSlot();
              subscriber.complete();
            },
          });
        },
        fail: (error) => subscriber.error(error),
      };
      this.enqueue(request);
      this.pump();
      return () => {
        running?.unsubscribe();
        freeSlot();
        if (this.remove(request)) this.pump();
      };
    });
  }

  /** The exchange said "rate limit exceeded" for a call of this cost: snap the budget to its cap. */
  snap(cost: RateCost): void {
    this.budget.snap(cost, this.scheduler.now());
    // Queued requests now wait longer: re-arm the timer for the new soonest wait.
    this.pump();
  }

  private enqueue(request: QueuedRequest): void {
    const at = this.waiting.findIndex((other) => other.rank > request.rank);
    if (at < 0) this.waiting.push(request);
    else this.waiting.splice(at, 0, request);
  }

  private remove(request: QueuedRequest): boolean {
    const at = this.waiting.indexOf(request);
    if (at < 0) return false;
    this.waiting.splice(at, 1);
    return true;
  }

  /**
   * Grants everything that fits, then arms one timer for the soonest wait. Re-entrant calls (a grant that
   * synchronously leads to another acquire or an unsubscribe) only ask for another pass.
   */
  private pump(): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        this.grantWhatFits();
      } while (this.pumpAgain);
    } finally {
      this.pumping = false;
    }
    this.armTimer();
  }

  private grantWhatFits(): void {
    for (;;) {
      const now = this.scheduler.now();
      const next = this.nextServable(now);
      if (!next) return;
      this.remove(next.request);
      if (next.wait === 'never') {
        next.request.fail(new RangeError('rate budget gave no finite wait for this cost: it can never fit'));
      } else {
        this.budget.record(next.request.cost, now);
        next.request.grant();
      }
    }
  }

  /** The first request that may go now (fits, nothing ahead of it waits on its counters), or a broken one. */
  private nextServable(now: number): { readonly request: QueuedRequest; readonly wait: 'now' | 'never' } | undefined {
    const blocked = new Set<string>();
    for (const request of this.waiting) {
      if (disjoint(request.counters, blocked) && !this.waitsForSlot(request)) {
        const wait = this.budget.waitMs(request.cost, now);
        if (!Number.isFinite(wait)) return { request, wait: 'never' };
        if (wait <= 0) return { request, wait: 'now' };
      }
      for (const counter of request.counters) blocked.add(counter);
    }
    return undefined;
  }

  private waitsForSlot(request: QueuedRequest): boolean {
    return request.exclusive && this.slotTaken;
  }

  private armTimer(): void {
    this.timer?.unsubscribe();
    this.timer = null;
    const now = this.scheduler.now();
    const blocked = new Set<string>();
    let soonest = Number.POSITIVE_INFINITY;
    for (const request of this.waiting) {
      // A request waiting for the slot needs no timer: the end of the call in flight pumps again.
      if (disjoint(request.counters, blocked) && !this.waitsForSlot(request)) soonest = Math.min(soonest, this.budget.waitMs(request.cost, now));
      for (const counter of request.counters) blocked.add(counter);
    }
    if (Number.isFinite(soonest)) {
      this.timer = this.scheduler.schedule(() => {
        this.timer = null;
        this.pump();
      }, Math.max(0, soonest));
    }
  }
}

/**
 * Lets each value of a stream of requests through the gate, in order: a value is emitted once its cost has
 * been charged.
 *
 * Intuition: `concatMap` onto `gate.acquire`.
 *
 * budget at its cap at 0 ms (starter tier: one unit frees about every 3030 ms); every value costs 1:
 * source:  -a-b-c|
 *   rateLimit(gate, () => ({ rest: 1 }), 'monitor')
 * result:  3031ms a 3029ms b 3029ms (c|)      (a at 3031, b at 6061, c and completion at 9091)
 *
 * Completes when the source has completed and every value has passed. An error of the source is passed on at
 * once; a value still waiting is dropped and never charged.
 *
 * @param gate The shared gate.
 * @param costOf What each value's call costs.
 * @param lane The priority lane of every value of this stream.
 * @returns The values, each released when the budget allows it.
 */
export function rateLimit<T>(gate: RateGate, costOf: (value: T) => RateCost, lane: Lane): MonoTypeOperatorFunction<T> {
  return (source) =>
    source.pipe(
      // concatMap: values are released in the order they arrived.
      concatMap((value) => gate.acquire(costOf(value), lane).pipe(map(() => value))),
    );
}
