export { accountFingerprint } from './account';
export { type MemoryJournalOptions, type MemoryJournalStore, createMemoryJournalStore, openMemoryJournal } from './memory';
