import { EMPTY, type Observable, type OperatorFunction, mergeMap, of } from 'rxjs';
import { type ExecutionReport } from '../model/report';

/**
 * What a stage of the pipeline emits: reports to pass on as they happen, and at most one outcome for the next
 * stage (a placed order, an order's final state). Keeping both in one stream lets a stage report while it works
 * and still hand a value on, without a side channel.
 */
export type Step<T> =
  | { readonly kind: 'report'; readonly report: ExecutionReport }
  | { readonly kind: 'done'; readonly value: T };

export const reportStep = (report: ExecutionReport): Step<never> => ({ kind: 'report', report });

export const doneStep = <T>(value: T): Step<T> => ({ kind: 'done', value });

/**
 * Chains the next stage onto a stage's outcome; reports pass through untouched.
 *
 * steps:   -r-r--d|
 *   andThen(d => -s-e|)
 * result:  -r-r---s-e|
 *
 * mergeMap: a stage hands on at most one outcome, so there is nothing to order or cancel.
 * Completes when the steps and the next stage have completed; errors pass on.
 *
 * @param next The next stage, started with the outcome.
 * @returns Reports of both stages, then the next stage's outcome.
 */
export function andThen<T, U>(next: (value: T) => Observable<Step<U>>): OperatorFunction<Step<T>, Step<U>> {
  return mergeMap((step: Step<T>): Observable<Step<U>> => (step.kind === 'report' ? of(step) : next(step.value)));
}

/**
 * Keeps the reports and drops the outcome: the end of a chain of stages.
 *
 * steps:   -r-r--d|
 * result:  -r-r---|
 */
export function reportsOf<T>(): OperatorFunction<Step<T>, ExecutionReport> {
  return mergeMap((step: Step<T>) => (step.kind === 'report' ? of(step.report) : EMPTY));
}
