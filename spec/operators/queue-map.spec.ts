import { describe, expect, it } from '@jest/globals';
import { EMPTY, type Observable, Subject, concat, ignoreElements, of, throwError } from 'rxjs';
import { queueMap } from '../../src/operators/queue-map';
import { marbles } from './support';

describe('queueMap', () => {
  it('never emits and stays subscribed when the source never emits', () => {
    marbles(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<string>('-');
      expectObservable(source.pipe(queueMap((x) => of(x)))).toBe('-');
      expectSubscriptions(source.subscriptions).toBe('^');
    });
  });

  it('completes at once on an empty source', () => {
    marbles(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<string>('|');
      expectObservable(source.pipe(queueMap((x) => of(x)))).toBe('|');
      expectSubscriptions(source.subscriptions).toBe('(^!)');
    });
  });

  it('with concurrent 1, runs the inners one after the other in arrival order, like concatMap', () => {
    marbles(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-abc-------|');
      const inner = (x: string): Observable<string> => cold('--x|', { x });
      const expected = '---a--b--c-|';
      expectObservable(source.pipe(queueMap(inner, 1))).toBe(expected);
      expectSubscriptions(source.subscriptions).toBe('^----------!');
    });
  });

  it('runs at most `concurrent` inners at once and completes after the last inner', () => {
    marbles(({ cold, expectObservable }) => {
      const source = cold('-abc|');
      const inner = (x: string): Observable<string> => cold('---x|', { x });
      // a starts at 1, b at 2, c when a ends at 5
      expectObservable(source.pipe(queueMap(inner, 2))).toBe('----ab--c|');
    });
  });

  it('passes on an error of an inner and unsubscribes the source and the other inners', () => {
    marbles(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-ab---');
      const slow = cold('-----x|');
      const failing = cold('--#');
      expectObservable(source.pipe(queueMap((x) => (x === 'a' ? slow : failing), 2))).toBe('----#');
      expectSubscriptions(source.subscriptions).toBe('^---!');
      expectSubscriptions(slow.subscriptions).toBe('-^--!');
    });
  });

  it('passes on an error of the source', () => {
    marbles(({ cold, expectObservable }) => {
      expectObservable(cold('-a-#').pipe(queueMap((x) => of(x)))).toBe('-a-#');
    });
  });

  it('turns an exception thrown by project into an error', () => {
    marbles(({ cold, expectObservable }) => {
      const boom = new Error('boom');
      const project = (x: string): Observable<string> => {
        if (x === 'b') throw boom;
        return of(x);
      };
      expectObservable(cold('-a-b-c').pipe(queueMap(project, 1))).toBe('-a-#', undefined, boom);
    });
  });

  it('on early unsubscription ends the source and every inner, and starts nothing more', () => {
    marbles(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-ab----');
      const inner = cold('----x|');
      expectObservable(source.pipe(queueMap(() => inner, 1)), '^--!').toBe('---');
      expectSubscriptions(source.subscriptions).toBe('^--!');
      expectSubscriptions(inner.subscriptions).toBe('-^-!');
    });
  });

  it('drains 200,000 queued values whose inners complete synchronously without growing the call stack', () => {
    // mergeMap(…, 1) overflows Node's default stack on this: each queued inner is started from inside the
    // completion of the one before.
    const gate = new Subject<void>();
    const results: number[] = [];
    let completed = false;
    const values = Array.from({ length: 200_000 }, (_, i) => i);
    const source = new Subject<number>();
    const subscription = source
      .pipe(queueMap((i) => (i === 0 ? concat(gate.pipe(ignoreElements()), of(i)) : i % 3 === 0 ? EMPTY : of(i)), 1))
      .subscribe({ next: (i) => results.push(i), error: (error: unknown) => results.push(-1, String(error).length), complete: () => (completed = true) });
    values.forEach((i) => source.next(i));
    source.complete();
    expect(results).toEqual([]);
    gate.complete();
    expect(completed).toBe(true);
    expect(results).toEqual(values.filter((i) => i === 0 || i % 3 !== 0));
    subscription.unsubscribe();
  });

  it('an inner that errors while the queue drains ends the result at once', () => {
    const failure = new Error('failed');
    const seen: unknown[] = [];
    const source = new Subject<number>();
    const gate = new Subject<void>();
    source.pipe(queueMap((i) => (i === 0 ? concat(gate.pipe(ignoreElements()), of(i)) : i === 3 ? throwError(() => failure) : of(i)), 1)).subscribe({
      next: (i) => seen.push(i),
      error: (error: unknown) => seen.push(error),
    });
    [0, 1, 2, 3, 4, 5].forEach((i) => source.next(i));
    gate.complete();
    expect(seen).toEqual([0, 1, 2, failure]);
  });

  it('refuses a concurrency below 1', () => {
    expect(() => queueMap((x: number) => of(x), 0)).toThrow(RangeError);
  });
});
