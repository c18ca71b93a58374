/**
 * Reading an error by its shape, not by `instanceof`. Errors cross realms: Node's own system errors (ECONNRESET,
 * EPIPE…) and those of a native addon (better-sqlite3 takes its error class from the first module registry that
 * loads it) are built from another realm's `Error` than a vm context's — a jest spec file, a sandbox — and fail
 * `instanceof Error` there, so a check by class would take a retryable socket error for a bug, or a constraint
 * violation for a storage failure.
 */

/** An error's string `code` (`ECONNRESET`, `SQLITE_CONSTRAINT_UNIQUE`, PostgreSQL's `23505`), if it has one. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  return typeof error.code === 'string' ? error.code : undefined;
}

/** An error's message, or the value as text when it has none. */
export function errorMessage(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'message' in error && typeof error.message === 'string') return error.message;
  return String(error);
}
