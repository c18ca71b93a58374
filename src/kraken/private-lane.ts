import { Observable, type Subscription } from 'rxjs';
import { NonceSource } from './nonce';

/**
 * The one queue that private calls on one API key pass through, with that key's nonce source.
 *
 * Kraken rejects a nonce lower than the last one it accepted, and two requests in flight on one key can arrive
 * in either order. So private calls run one at a time: each starts only when the previous one has finished
 * (answered, failed, timed out or been aborted), and takes its nonce when it starts — after any wait in the
 * queue, never earlier. A retry is a new subscription, hence a new place in the queue and a fresh nonce.
 *
 * queue:     a---A  b----B  c--C          (lower case: start, upper case: end)
 *   calls a, b, c subscribed at once run in subscription order, never overlapping.
 */
export class PrivateLane {
  private busy = false;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly nonces: NonceSource = new NonceSource()) {}

  /** How many calls are waiting for their turn (for logs). */
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Runs `work` (with the nonce it must send) when the lane is free. Unsubscribing while waiting leaves the
   * queue without side effects; unsubscribing while running tears the work down (aborting its request) and
   * frees the lane.
   *
   * @param work the request, built and signed from the nonce it is given
   * @returns a cold Observable mirroring `work`
   */
  run<T>(work: (nonce: bigint) => Observable<T>): Observable<T> {
    return new Observable<T>((subscriber) => {
      let state: 'waiting' | 'running' | 'done' = 'waiting';
      let running: Subscription | undefined;

      const finish = (): void => {
        if (state === 'done') return;
        state = 'done';
        this.release();
      };

      const start = (): void => {
        state = 'running';
        let observable: Observable<T>;
        try {
          observable = work(this.nonces.next());
        } catch (error) {
          finish();
          subscriber.error(error);
          return;
        }
        running = observable.subscribe({
          next: (value) => subscriber.next(value),
          error: (error: unknown) => {
            finish();
            subscriber.error(error);
          },
          complete: () => {
            finish();
            subscriber.complete();
          },
        });
      };

      if (this.busy) {
        this.waiting.push(start);
      } else {
        this.busy = true;
        start();
      }

      return () => {
        if (state === 'waiting') {
          const index = this.waiting.indexOf(start);
          if (index >= 0) this.waiting.splice(index, 1);
          state = 'done';
          return;
        }
        running?.unsubscribe();
        finish();
      };
    });
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.busy = false;
  }
}

const lanes = new Map<string, PrivateLane>();

/**
 * The process-wide lane of an API key: every client on the same key shares one queue and one nonce source,
 * so two clients in one process cannot race each other's nonces.
 */
export function privateLaneFor(apiKey: string): PrivateLane {
  let lane = lanes.get(apiKey);
  if (!lane) {
    lane = new PrivateLane();
    lanes.set(apiKey, lane);
  }
  return lane;
}
