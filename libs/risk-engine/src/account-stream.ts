import type { StreamUpdate } from './risk.types';

/** A balance as it stands after a batch (integers of the asset's smallest unit, as strings). */
export interface BalanceStreamUpdate {
  type: 'balance';
  asset: string;
  available: string;
  held: string;
}

/** What an account's stream carries: its order changes, money commands and balances. */
export type AccountStreamData = StreamUpdate | BalanceStreamUpdate;

/** One record of account.events.v1: the account's `seq`-th update. */
export interface AccountEvent {
  accountId: string;
  seq: number;
  data: AccountStreamData;
}

/**
 * Each account's stream sequence number, owned by the router partition that owns the account (all
 * of an account's commands and updates are keyed by its id, so one partition sees all of them).
 * Loaded from the database on first touch, advanced by `number`, persisted with the batch that
 * produced the numbers; dropped with the rest of the partition's state when a batch fails, so a
 * replay numbers the same updates the same way.
 */
export class AccountSequencer {
  private readonly seqs = new Map<string, number>();

  isLoaded(accountId: string): boolean {
    return this.seqs.has(accountId);
  }

  /** The account's last committed seq (0: none yet). */
  load(accountId: string, seq: number): void {
    this.seqs.set(accountId, seq);
  }

  last(accountId: string): number {
    const seq = this.seqs.get(accountId);
    if (seq === undefined) throw new Error(`stream seq of ${accountId} not loaded`);
    return seq;
  }

  /**
   * A batch's updates numbered: per account in the order given, each account's changed balances
   * (as they stand after the batch) after its other updates. Returns the events and each numbered
   * account's new last seq.
   */
  number(
    updates: readonly { accountId: string; update: AccountStreamData }[],
    balances: readonly { accountId: string; asset: string; available: bigint; held: bigint }[] = [],
  ): { events: AccountEvent[]; last: Map<string, number> } {
    const byAccount = new Map<string, AccountStreamData[]>();
    const add = (accountId: string, data: AccountStreamData): void => {
      const list = byAccount.get(accountId);
      if (list) list.push(data);
      else byAccount.set(accountId, [data]);
    };
    for (const u of updates) add(u.accountId, u.update);
    for (const b of balances)
      add(b.accountId, {
        type: 'balance',
        asset: b.asset,
        available: b.available.toString(),
        held: b.held.toString(),
      });
    const events: AccountEvent[] = [];
    const last = new Map<string, number>();
    for (const [accountId, list] of byAccount) {
      let seq = this.last(accountId);
      for (const data of list) events.push({ accountId, seq: ++seq, data });
      this.seqs.set(accountId, seq);
      last.set(accountId, seq);
    }
    return { events, last };
  }
}

/**
 * What a stream client does with numbered updates: the next one is applied, an older or repeated
 * one (an at-least-once redelivery) dropped, a later one means updates were missed: resnapshot.
 */
export function streamStep(lastSeen: number, seq: number): 'apply' | 'drop' | 'gap' {
  if (seq <= lastSeen) return 'drop';
  return seq === lastSeen + 1 ? 'apply' : 'gap';
}
