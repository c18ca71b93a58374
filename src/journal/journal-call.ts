import { type Observable, defer, of } from 'rxjs';
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
      throw new JournalError('storage', `journal ${what} failed: ${storeErrorMessage(error)}`, { cause: error });
    }
  });
}

/**
 * The `code` of a store's error (`SQLITE_CONSTRAINT_UNIQUE`, PostgreSQL's `23505`), read by shape, not by
 * `instanceof`: better-sqlite3 is a native addon loaded once per process, so its errors may be built from another
 * realm's `Error` (a jest worker running several spec files, a vm context) and fail `instanceof Error` there.
 */
export function storeErrorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  return typeof error.code === 'string' ? error.code : undefined;
}

/** A store's error message, read by shape for the same reason. */
export function storeErrorMessage(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'message' in error && typeof error.message === 'string') return error.message;
  return String(error);
}
