import { type Observable, type OperatorFunction, catchError, map, of, startWith, withLatestFrom } from 'rxjs';

/** Why a signal was refused: HALT is on, or the HALT feed failed (and so HALT is on for good). */
export type HaltCause = { readonly kind: 'halted' } | { readonly kind: 'feed-failed'; readonly error: unknown };

const HALTED: HaltCause = { kind: 'halted' };

/**
 * Turns signals that arrive while HALT is on into rejection values; an error of `halted$` turns HALT on.
 *
 * Intuition: `withLatestFrom(halted$)`, and a rejection instead of the signal while halted; nothing is dropped.
 * HALT fails closed: a feed that can no longer say "halted" must not leave trading open.
 *
 * halted$:  --t---f---#
 * signals:  -a-b-c-d-e-g-
 *   haltGate(halted$, reject)
 * result:   -a-B-C-d-e-G-     (B, C: reject(b, halted); G: reject(g, feed-failed))
 *
 * Before `halted$` first emits, `initiallyHalted` decides. When `halted$` completes, its last value stays in
 * force. When `halted$` errors, every later signal is rejected with cause `feed-failed` (carrying the error) and
 * the result goes on; an error of the signals is an error of the result. Completes when the signals complete,
 * and then stops listening to `halted$`. An exception thrown by `reject` is an error of the result.
 *
 * @param halted$ Whether new risk is halted; the latest value counts; an error halts.
 * @param reject Makes the value that stands for a signal refused (e.g. a rejection report), given why.
 * @param initiallyHalted What holds before `halted$` has said anything (default: open).
 * @returns Each signal, or its rejection while halted.
 */
export function haltGate<S, R>(
  halted$: Observable<boolean>,
  reject: (signal: S, cause: HaltCause) => R,
  initiallyHalted = false,
): OperatorFunction<S, S | R> {
  const cause$: Observable<HaltCause | null> = halted$.pipe(
    map((halted) => (halted ? HALTED : null)),
    catchError((error: unknown) => of<HaltCause>({ kind: 'feed-failed', error })),
    startWith(initiallyHalted ? HALTED : null),
  );
  return (signals) =>
    signals.pipe(
      withLatestFrom(cause$),
      map(([signal, cause]): S | R => (cause === null ? signal : reject(signal, cause))),
    );
}
