import { Decimal } from 'decimal.js';

/**
 * The paper account's balances, one number per asset id. Holds are not stored: they are derived from the
 * open orders (see `Engine.holds`), so a hold can never drift from the orders that justify it.
 */
export class Ledger {
  private readonly balances = new Map<string, Decimal>();

  constructor(initial: ReadonlyMap<string, Decimal>) {
    for (const [asset, amount] of initial) this.balances.set(asset, amount);
  }

  balance(asset: string): Decimal {
    return this.balances.get(asset) ?? new Decimal(0);
  }

  /** Adds a (possibly negative) amount. */
  move(asset: string, amount: Decimal): void {
    this.balances.set(asset, this.balance(asset).plus(amount));
  }

  assets(): string[] {
    return [...this.balances.keys()];
  }
}
