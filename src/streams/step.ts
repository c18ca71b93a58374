import { Observable, type OperatorFunction, type Subscription, filter, map } from 'rxjs';
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
 * Merged (mergeMap's semantics): a stage hands on at most one outcome, so there is nothing to order or cancel.
 * Reports pass straight through rather than as an `of(step)` inner each, and an outcome's stage is one inner
 * subscription: the entries stream chains thousands of working orders through this.
 * Completes when the steps and every next stage have completed; errors pass on (and end the other stages).
 *
 * @param next The next stage, started with the outcome.
 * @returns Reports of both stages, then the next stage's outcome.
 */
export function andThen<T, U>(next: (value: T) => Observable<Step<U>>): OperatorFunction<Step<T>, Step<U>> {
  return (steps) =>
    new Observable<Step<U>>((subscriber) => {
      const stages = new Set<Subscription>();
      let stepsDone = false;
      const completeIfDone = (): void => {
        if (stepsDone && stages.size === 0) subscriber.complete();
      };
      const upstream = steps.subscribe({
        next: (step) => {
          if (step.kind === 'report') {
            subscriber.next(step);
            return;
          }
          let stage: Subscription | null = null;
          let ended = false;
          let stage$: Observable<Step<U>>;
          try {
            stage$ = next(step.value);
          } catch (error) {
            subscriber.error(error);
            return;
          }
          stage = stage$.subscribe({
            next: (value) => subscriber.next(value),
            error: (error: unknown) => subscriber.error(error),
            complete: () => {
              ended = true;
              if (!stage) return; // completed while being subscribed: handled below, once its teardown has run
              // Torn down before the end is passed on, as mergeMap does: whoever hears the completion finds no
              // timer or watch of the stage still live.
              stages.delete(stage);
              stage.unsubscribe();
              completeIfDone();
            },
          });
          if (ended) completeIfDone();
          else stages.add(stage);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => {
          stepsDone = true;
          completeIfDone();
        },
      });
      return () => {
        upstream.unsubscribe();
        for (const stage of stages) stage.unsubscribe();
        stages.clear();
      };
    });
}

/**
 * Keeps the reports and drops the outcome: the end of a chain of stages.
 *
 * steps:   -r-r--d|
 * result:  -r-r---|
 */
export function reportsOf<T>(): OperatorFunction<Step<T>, ExecutionReport> {
  return (steps) =>
    steps.pipe(
      filter((step): step is Extract<Step<T>, { kind: 'report' }> => step.kind === 'report'),
      map((step) => step.report),
    );
}
