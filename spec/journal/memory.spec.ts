import { createMemoryJournalStore, openMemoryJournal } from '../../src/journal/memory';
import { journalContract } from './contract';

journalContract({
  name: 'in-memory',
  make: () => {
    const store = createMemoryJournalStore();
    return { open: (account) => openMemoryJournal({ account, store }), dispose: () => undefined };
  },
  // It dies with the process by design: nothing to survive a crash.
  crashWriter: null,
});
