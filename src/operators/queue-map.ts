import { type ObservableInput, type OperatorFunction, Observable, type Subscription, from } from 'rxjs';

/**
 * `mergeMap` with a `concurrent` bound whose queued values are started by a loop, never one inside another.
 *
 * Intuition: RxJS's `mergeMap`/`concatMap` start the next queued value from inside the completion of the
 * previous inner; when inners complete synchronously (a rejection, a refusal by an open breaker) a queue of
 * N values becomes a call stack N deep, and a burst of a few thousand overflows it. Here one loop drains the
 * queue, so the stack stays flat whatever the burst size.
 *
 * source:  -abc-------|
 *   queueMap(x => --x|, 1)
 * result:  ---a--b--c-|     (b, c wait their turn, then go one after the other)
 *
 * Values start in arrival order (FIFO), at most `concurrent` inners at a time. Completes when the source has
 * completed and every inner has. An error of the source, of an inner or thrown by `project` is an error of the
 * result. Unsubscribing ends the source, every inner, and drops what is queued.
 *
 * @param project Makes the inner Observable of a value (and its index).
 * @param concurrent How many inners may run at once (1: `concatMap`). Default: no limit.
 * @returns The inners' values, merged.
 */
export function queueMap<T, R>(project: (value: T, index: number) => ObservableInput<R>, concurrent = Number.POSITIVE_INFINITY): OperatorFunction<T, R> {
  if (!(concurrent >= 1)) throw new RangeError(`queueMap: concurrent must be 1 or more, got ${concurrent}`);
  return (source) =>
    new Observable<R>((subscriber) => {
      // A queue with a moving head: shift() on a long array is linear, which a burst would make quadratic.
      let queue: T[] = [];
      let head = 0;
      let index = 0;
      let active = 0;
      let sourceDone = false;
      let draining = false;
      const running = new Set<Subscription>();

      const start = (value: T): void => {
        active += 1;
        let inner: Subscription | null = null;
        let ended = false;
        const end = (): void => {
          ended = true;
          active -= 1;
          if (!inner) return; // completed while being started: the loop in drain() goes on
          // Torn down before anything else is started or the end is passed on, as mergeMap does.
          running.delete(inner);
          inner.unsubscribe();
          drain();
        };
        inner = from(project(value, index++)).subscribe({
          next: (result) => subscriber.next(result),
          error: (error: unknown) => subscriber.error(error),
          complete: end,
        });
        if (ended) inner = null;
        else running.add(inner);
      };

      const drain = (): void => {
        // Re-entered from an inner that completed while being started: the loop below picks up the next value.
        if (draining) return;
        draining = true;
        try {
          while (head < queue.length && active < concurrent && !subscriber.closed) {
            const value = queue[head] as T;
            head += 1;
            start(value);
          }
          if (head > 1024 && head * 2 > queue.length) {
            queue = queue.slice(head);
            head = 0;
          }
        } catch (error) {
          subscriber.error(error);
        } finally {
          draining = false;
        }
        if (sourceDone && active === 0 && head >= queue.length) subscriber.complete();
      };

      const upstream = source.subscribe({
        next: (value) => {
          queue.push(value);
          drain();
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => {
          sourceDone = true;
          drain();
        },
      });

      return () => {
        upstream.unsubscribe();
        for (const inner of running) inner.unsubscribe();
        running.clear();
        queue = [];
        head = 0;
      };
    });
}
