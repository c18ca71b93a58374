import { describe, expect, it } from '@jest/globals';
import { take, timer } from 'rxjs';
import { IDLE_CLOCK_ORIGIN, IdleClock } from '../../src/time/idle-clock';

/** A promise the test settles by hand: I/O whose end the test controls. */
function manual<T = void>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A few turns of the event loop, for asserting that something did NOT happen meanwhile. */
const turns = async (n = 5): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe('IdleClock: virtual time', () => {
  it('starts at a fixed origin and runs RxJS timers when time is let pass, not before', async () => {
    const clock = new IdleClock();
    expect(clock.now()).toBe(IDLE_CLOCK_ORIGIN);
    const seen: number[] = [];
    const subscription = timer(100, 50, clock)
      .pipe(take(3))
      .subscribe((i) => seen.push(clock.now() - IDLE_CLOCK_ORIGIN + i / 1000));
    await clock.advance(99);
    expect(seen).toEqual([]);
    await clock.advance(1);
    expect(seen).toEqual([100]);
    await clock.advance(200);
    expect(seen).toEqual([100, 150.001, 200.002]);
    expect(clock.now() - IDLE_CLOCK_ORIGIN).toBe(300);
    subscription.unsubscribe();
    expect(clock.pendingTimers()).toBe(0);
  });

  it('runs timers due at the same instant in the order they were set', async () => {
    const clock = new IdleClock(0);
    const order: string[] = [];
    clock.timers.setTimeout(() => order.push('b'), 10);
    clock.timers.setTimeout(() => order.push('a'), 5);
    clock.timers.setTimeout(() => order.push('c'), 10);
    const cleared = clock.timers.setTimeout(() => order.push('never'), 7);
    clock.timers.clearTimeout(cleared);
    await clock.advance(10);
    expect(order).toEqual(['a', 'b', 'c']);
  });

  it('runUntil jumps from timer to timer until the condition holds, and says when the limit or the work ran out', async () => {
    const clock = new IdleClock(0);
    let fired = 0;
    for (const at of [1_000, 5_000, 20_000]) clock.timers.setTimeout(() => (fired += 1), at);
    expect(await clock.runUntil(() => fired === 2, 60_000)).toBe(true);
    expect(clock.now()).toBe(5_000);
    expect(await clock.runUntil(() => fired === 3, 10_000)).toBe(false);
    expect(clock.now()).toBe(5_000);
    expect(await clock.runUntil(() => fired === 3, 15_000)).toBe(true);
    expect(await clock.runUntil(() => fired === 4, 60_000)).toBe(false);
  });

  it('a timer callback that throws fails the run that let it fire', async () => {
    const clock = new IdleClock(0);
    clock.timers.setTimeout(() => {
      throw new Error('boom');
    }, 10);
    await expect(clock.advance(10)).rejects.toThrow('boom');
  });
});

describe('IdleClock: loopback I/O', () => {
  it('stands still while a request is in flight, then jumps once it has been answered', async () => {
    const clock = new IdleClock(0);
    let fired = false;
    clock.timers.setTimeout(() => (fired = true), 10);
    const answer = manual<string>();
    const request = clock.io(() => answer.promise);
    const running = clock.runUntil(() => fired, 1_000);
    await turns();
    expect([clock.now(), fired]).toEqual([0, false]);
    answer.resolve('ok');
    expect(await running).toBe(true);
    expect(clock.now()).toBe(10);
    await expect(request).resolves.toBe('ok');
  });

  it('serves requests one at a time, in the order they were issued', async () => {
    const clock = new IdleClock(0);
    const started: string[] = [];
    const first = manual();
    const second = manual();
    const a = clock.io(() => {
      started.push('a');
      return first.promise;
    });
    const b = clock.io(() => {
      started.push('b');
      return second.promise;
    });
    await turns();
    expect(started).toEqual(['a']);
    first.resolve();
    await a;
    await turns();
    expect(started).toEqual(['a', 'b']);
    second.resolve();
    await b;
  });

  it('a request parked by the server on a wait timer lets time pass and the next request go, and is resumed when the timer fires', async () => {
    const clock = new IdleClock(0);
    const events: string[] = [];
    const held = manual<string>();
    // The "server" parks the request it is serving for 3 s, then answers it.
    const slow = clock.io(() => {
      clock.waitTimers.setTimeout(() => {
        events.push(`resumed@${clock.now()}`);
        held.resolve('late');
      }, 3_000);
      return held.promise;
    });
    const quick = clock.io(async () => {
      events.push(`quick@${clock.now()}`);
      return 'quick';
    });
    await expect(quick).resolves.toBe('quick');
    await clock.runUntil(() => events.length === 2, 10_000);
    await expect(slow).resolves.toBe('late');
    expect(events).toEqual(['quick@0', 'resumed@3000']);
  });

  it('a parked request whose client gives up counts as in flight until the client has seen the failure', async () => {
    const clock = new IdleClock(0);
    const abort = new AbortController();
    const dropped = manual<never>();
    // The failure takes several turns of the event loop to reach the client, as a socket's does.
    abort.signal.addEventListener('abort', () => void turns(8).then(() => dropped.reject(new Error('aborted'))));
    const events: string[] = [];
    const request = clock.io(() => {
      clock.waitTimers.setTimeout(() => undefined, 60_000);
      return dropped.promise;
    }, abort.signal);
    request.catch(() => events.push(`failed@${clock.now()}`));
    clock.timers.setTimeout(() => abort.abort(), 100);
    clock.timers.setTimeout(() => events.push(`next@${clock.now()}`), 101);
    // At 100 the client aborts; the clock must not run the 101 timer before the failure has landed.
    await clock.runUntil(() => events.length === 2, 1_000);
    expect(events).toEqual(['failed@100', 'next@101']);
  });
});

describe('IdleClock: long-lived links (WebSocket frames)', () => {
  it('stands still while a frame is sent and not yet handled, then moves on', async () => {
    const clock = new IdleClock(0);
    let fired = false;
    clock.timers.setTimeout(() => (fired = true), 10);
    clock.links.sent('40001');
    const running = clock.runUntil(() => fired, 1_000);
    await turns();
    expect(fired).toBe(false);
    expect(clock.now()).toBe(0);
    clock.links.received('40001');
    expect(await running).toBe(true);
    expect(clock.now()).toBe(10);
  });

  it('counts a link that closed at one end as in flight until the other end has seen it close', async () => {
    const clock = new IdleClock(0);
    let fired = false;
    clock.timers.setTimeout(() => (fired = true), 10);
    clock.links.sent('40002');
    clock.links.ended('40002');
    const running = clock.runUntil(() => fired, 1_000);
    await turns();
    expect(fired).toBe(false);
    // The frame was lost with the link: the second end's close is what lets time go on.
    clock.links.ended('40002');
    expect(await running).toBe(true);
  });

  it('holds the clock while a connection is being opened; releasing twice counts once', async () => {
    const clock = new IdleClock(0);
    let fired = false;
    clock.timers.setTimeout(() => (fired = true), 10);
    const release = clock.links.hold();
    const other = clock.links.hold();
    const running = clock.runUntil(() => fired, 1_000);
    await turns();
    release();
    release();
    await turns();
    expect(fired).toBe(false);
    other();
    expect(await running).toBe(true);
  });
});

describe('IdleClock: drive', () => {
  it('lets time pass until a promise settles and hands on its outcome, or says it is still pending', async () => {
    const clock = new IdleClock(0);
    const later = new Promise<string>((resolve) => clock.timers.setTimeout(() => resolve('done'), 2_500));
    await expect(clock.drive(later, 10_000)).resolves.toBe('done');
    expect(clock.now()).toBe(2_500);
    const failing = new Promise<never>((_resolve, reject) => clock.timers.setTimeout(() => reject(new Error('boom')), 100));
    await expect(clock.drive(failing, 10_000)).rejects.toThrow('boom');
    const never = new Promise<never>(() => undefined);
    clock.timers.setTimeout(() => undefined, 5_000);
    await expect(clock.drive(never, 1_000)).rejects.toThrow(/still pending after 0 clock ms \(limit 1000\)/);
  });
});
