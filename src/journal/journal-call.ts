import { type Observable, defer, of } from 'rxjs';
import { errorMessage } from '../model/error-shape';
import { JournalError, isJournalError } from '../model/journal';

/**
 * One journal operation as the port promises it: cold (the work runs on subscription, once per subscriber),
 * one value then complete, and any failure a `JournalError` (a store's own exception becomes `storage`).
 *
 * @param what Names the operation in a storage error.
 * @param work The synchronous work.
 */
export function journalCall<T>(what: string, work: () => T): Observable<T> {
  return defer(() => {
    try {
      return of(work());
    } catch (error: unknown) {
      if (isJournalError(error)) throw error;
      throw new JournalError('storage', `journal ${what} failed: ${errorMessage(error)}`, { cause: error });
    }
  });
}
