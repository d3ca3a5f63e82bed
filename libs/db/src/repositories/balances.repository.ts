import { pgArrays } from '../pg-array';
import type { BalanceRecord as BalanceRow, PostedEntry as LedgerRow } from '@trading/contracts';
import type { DataSource, EntityManager } from 'typeorm';

// The ledger records are @trading/contracts'; re-exported under the row names so `LedgerRow` and
// `BalanceRow` from @trading/db still compile.
export type { PostedEntry as LedgerRow, BalanceRecord as BalanceRow } from '@trading/contracts';

type Executor = DataSource | EntityManager;

export const LEDGER_CASTS = ['text', 'text', 'text', 'bigint', 'bigint', 'text', 'text'];

/** Ledger rows as post_ledger's column arrays (one array literal per column). */
export function ledgerColumns(entries: LedgerRow[]): string[] {
  return pgArrays([
    entries.map((e) => e.key),
    entries.map((e) => e.accountId),
    entries.map((e) => e.asset),
    entries.map((e) => e.availableDelta.toString()),
    entries.map((e) => e.heldDelta.toString()),
    entries.map((e) => e.kind),
    entries.map((e) => e.ref),
  ]);
}

/** Balances and the ledger; the only place that writes money. */
export class BalancesRepository {
  constructor(private readonly db: DataSource) {}

  async forAccounts(accountIds: string[], tx: Executor = this.db): Promise<BalanceRow[]> {
    if (accountIds.length === 0) return [];
    const rows = (await tx.query(
      `SELECT account_id, asset, available::text AS available, held::text AS held FROM balances WHERE account_id = ANY($1::text[])`,
      [accountIds],
    )) as { account_id: string; asset: string; available: string; held: string }[];
    return rows.map((r) => ({
      accountId: r.account_id,
      asset: r.asset,
      available: BigInt(r.available),
      held: BigInt(r.held),
    }));
  }

  /**
   * Inserts ledger rows and moves balances by exactly the rows that were new, in one statement:
   * a replayed entry (same key) inserts nothing and so moves nothing. Returns how many were new.
   */
  async post(entries: LedgerRow[], tx: Executor = this.db): Promise<number> {
    if (entries.length === 0) return 0;
    // One array per column; the function (migration SettlementWritePath) is planned once per
    // server connection, not on every batch.
    const rows = (await tx.query(
      `SELECT post_ledger($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[], $7::text[]) AS inserted`,
      ledgerColumns(entries),
    )) as { inserted: number }[];
    return rows[0]?.inserted ?? 0;
  }

  /**
   * The ledger entries stored under these keys (primary key lookups). Money commands use it to
   * tell a command id that was posted already: post() would skip its entry as a replay.
   */
  async findEntries(keys: string[], tx: Executor = this.db): Promise<LedgerRow[]> {
    if (keys.length === 0) return [];
    const rows = (await tx.query(
      `SELECT entry_key, account_id, asset, available_delta::text AS ad, held_delta::text AS hd, kind, ref
       FROM ledger WHERE entry_key = ANY($1::text[])`,
      [keys],
    )) as Record<string, string>[];
    return rows.map((r) => ({
      key: r.entry_key,
      accountId: r.account_id,
      asset: r.asset,
      availableDelta: BigInt(r.ad),
      heldDelta: BigInt(r.hd),
      kind: r.kind,
      ref: r.ref,
    }));
  }

  /** Ledger entries of one account, newest first, keyset-paginated by entry id. */
  async ledgerPage(
    accountId: string,
    opts: { asset?: string; beforeId?: bigint; limit: number },
  ): Promise<(LedgerRow & { id: bigint; createdAt: Date })[]> {
    const rows = (await this.db.query(
      `SELECT entry_id::text AS id, entry_key, account_id, asset, available_delta::text AS ad, held_delta::text AS hd, kind, ref, created_at
       FROM ledger WHERE account_id = $1 AND ($2::text IS NULL OR asset = $2) AND ($3::bigint IS NULL OR entry_id < $3)
       ORDER BY entry_id DESC LIMIT $4`,
      [accountId, opts.asset ?? null, opts.beforeId?.toString() ?? null, opts.limit],
    )) as Record<string, string | Date>[];
    return rows.map((r) => ({
      id: BigInt(r.id as string),
      key: r.entry_key as string,
      accountId: r.account_id as string,
      asset: r.asset as string,
      availableDelta: BigInt(r.ad as string),
      heldDelta: BigInt(r.hd as string),
      kind: r.kind as string,
      ref: r.ref as string,
      createdAt: r.created_at as Date,
    }));
  }
}
