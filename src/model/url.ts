/**
 * A service URL (Redis, PostgreSQL) as it may be printed or logged: without user name and password; a text that
 * does not parse as a URL is not echoed at all (it may hold a password all the same).
 */
export function printableUrl(raw: string): string {
  try {
    const url = new URL(raw);
    url.username = '';
    url.password = '';
    return url.toString();
  } catch {
    return '(unparsable URL)';
  }
}
