import { type Observable, type OperatorFunction, map, startWith, withLatestFrom } from 'rxjs';

/**
 * Turns signals that arrive while the latest `halted$` value is `true` into rejection values.
 *
 * Intuition: `withLatestFrom(halted$)`, and a rejection instead of the signal while halted; nothing is dropped.
 *
 * halted$:  --t---f----
 * signals:  -a-b-c-d-e-
 *   haltGate(halted$, reject)
 * result:   -a-B-C-d-e-     (B, C: reject(b), reject(c))
 *
 * Before `halted$` first emits, `initiallyHalted` decides. When `halted$` completes, its last value stays in
 * force. An error of `halted$` or of the signals is an error of the result. Completes when the signals
 * complete, and then stops listening to `halted$`. An exception thrown by `reject` is an error of the result.
 *
 * @param halted$ Whether new risk is halted; the latest value counts.
 * @param reject Makes the value that stands for a signal refused while halted (e.g. a rejection report).
 * @param initiallyHalted What holds before `halted$` has said anything (default: open).
 * @returns Each signal, or its rejection while halted.
 */
export function haltGate<S, R>(
  halted$: Observable<boolean>,
  reject: (signal: S) => R,
  initiallyHalted = false,
): OperatorFunction<S, S | R> {
  return (signals) =>
    signals.pipe(
      withLatestFrom(halted$.pipe(startWith(initiallyHalted))),
      map(([signal, halted]): S | R => (halted ? reject(signal) : signal)),
    );
}
