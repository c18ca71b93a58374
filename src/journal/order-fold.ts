import { type JournaledEvent, type JournaledOrder, JournalError, type OrderIntentRecord } from '../model/journal';
import { foldEvents, initialOrderState } from '../model/order-state';

/**
 * Reads an order back: its events folded through the order state machine from the intent. Appends are checked
 * against the same machine, so an invalid fold means the store was damaged or edited, and nothing is guessed.
 *
 * @param intent The order's intent.
 * @param intentSeq Where the intent sits in the journal.
 * @param events The order's events in journal order.
 * @returns The order with its state.
 */
export function foldJournaledOrder(intent: OrderIntentRecord, intentSeq: number, events: readonly JournaledEvent[]): JournaledOrder {
  const folded = foldEvents(
    initialOrderState(intent.clientOrderId, intent.volume),
    events.map((entry) => entry.event),
  );
  if (folded.kind === 'invalid') {
    const seq = events[folded.index]?.seq ?? -1;
    throw new JournalError(
      'corrupt',
      `journal entry ${seq}: ${folded.event.kind} does not fold onto order ${intent.clientOrderId} (${folded.state.status}): ${folded.reason}`,
    );
  }
  return { intent, intentSeq, events, state: folded.state };
}
