import { type Journal } from '../model/journal';

/** The journal port's methods, as a decorator may replace them (the account is the store's). */
export type JournalMethods = Omit<Journal, 'account'>;

/**
 * A journal that passes every call straight to `journal`, except the methods `overrides` names: the one place
 * that lists the port's methods for a decorator (the serial lane, the bus's acknowledgements, the patient store),
 * so a method added to the port reaches every decorator without each repeating the list.
 *
 * @param journal The store decorated.
 * @param overrides The methods that do something more.
 * @returns The decorated journal.
 */
export function journalWith(journal: Journal, overrides: Partial<JournalMethods>): Journal {
  const through: JournalMethods = {
    recordSignal: (signal) => journal.recordSignal(signal),
    recordIntent: (intent) => journal.recordIntent(intent),
    recordTransition: (clientOrderId, event, at) => journal.recordTransition(clientOrderId, event, at),
    recordCloseCommand: (command) => journal.recordCloseCommand(command),
    recordHalt: (halt) => journal.recordHalt(halt),
    recordRateCounters: (counters) => journal.recordRateCounters(counters),
    recordSignalOutcome: (outcome) => journal.recordSignalOutcome(outcome),
    recordForeignOrder: (order) => journal.recordForeignOrder(order),
    signal: (signalId) => journal.signal(signalId),
    order: (clientOrderId) => journal.order(clientOrderId),
    orders: () => journal.orders(),
    unresolvedOrders: () => journal.unresolvedOrders(),
    closeCommands: () => journal.closeCommands(),
    lastHalt: () => journal.lastHalt(),
    lastRateCounters: () => journal.lastRateCounters(),
    signalsWithoutOrder: () => journal.signalsWithoutOrder(),
    close: () => journal.close(),
  };
  return { account: journal.account, ...through, ...overrides };
}
