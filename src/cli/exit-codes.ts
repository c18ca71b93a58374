/**
 * Exit codes: 0 done, 1 could not start or failed, 2 the command line itself is wrong — or it names a journal
 * that cannot be used as it is (another account's, a newer schema, not a journal, damaged): nothing is guessed.
 */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
