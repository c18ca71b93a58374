export { accountFingerprint } from './account';
export { type MemoryJournalOptions, type MemoryJournalStore, createMemoryJournalStore, openMemoryJournal } from './memory';
export { SCHEMA_VERSION, type SqliteJournal, type SqliteJournalOptions, openSqliteJournal } from './sqlite';
export { type PatienceBackoff, type PatientJournalOptions, patientJournal } from './patient';
export { type PgJournalOptions, type PgLocation, openPgJournal } from './pg';
export { type JournalMethods, journalWith } from './decorate';
