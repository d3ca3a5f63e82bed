import type { LedgerEntry } from './risk.types';

export interface Balance {
  available: bigint;
  held: bigint;
}

/** Thrown when applying an entry would make a balance negative: a bug, never a state. */
export class NegativeBalanceError extends Error {
  constructor(
    readonly accountId: string,
    readonly asset: string,
  ) {
    super(`balance of ${accountId} in ${asset} would go negative`);
    this.name = 'NegativeBalanceError';
  }
}

/**
 * Balances of the accounts one router partition owns, in memory for the hot path. The database
 * is the record (every entry is persisted with the batch's offsets); this is loaded from it on
 * first touch and dropped whenever a batch fails or the partition moves.
 */
export class AccountBook {
  private readonly accounts = new Map<string, Map<string, Balance>>();

  isLoaded(accountId: string): boolean {
    return this.accounts.has(accountId);
  }

  load(accountId: string, balances: { asset: string; available: bigint; held: bigint }[]): void {
    const map = new Map<string, Balance>();
    for (const b of balances) map.set(b.asset, { available: b.available, held: b.held });
    this.accounts.set(accountId, map);
  }

  accountIds(): string[] {
    return [...this.accounts.keys()];
  }

  balance(accountId: string, asset: string): Balance {
    return this.accounts.get(accountId)?.get(asset) ?? { available: 0n, held: 0n };
  }

  /** Applies entries of accounts this book holds; others (the fee account) live in the database only. */
  apply(entries: readonly LedgerEntry[]): void {
    for (const e of entries) {
      const account = this.accounts.get(e.accountId);
      if (!account) continue;
      const b = account.get(e.asset) ?? { available: 0n, held: 0n };
      const available = b.available + e.availableDelta;
      const held = b.held + e.heldDelta;
      if (available < 0n || held < 0n) throw new NegativeBalanceError(e.accountId, e.asset);
      account.set(e.asset, { available, held });
    }
  }

  entries(): [string, string, Balance][] {
    const out: [string, string, Balance][] = [];
    for (const [accountId, assets] of this.accounts)
      for (const [asset, b] of assets) out.push([accountId, asset, b]);
    return out;
  }
}
