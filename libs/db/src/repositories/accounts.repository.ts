import type { DataSource } from 'typeorm';
import { returnedRows } from './returned-rows';

export type AccountKind = 'trader' | 'fee' | 'operator';

export interface AccountRow {
  accountId: string;
  name: string;
  kind: AccountKind;
  createdAt: Date;
}

/** Accounts; the only place that speaks SQL about them. */
export class AccountsRepository {
  constructor(private readonly db: DataSource) {}

  /** Creates the account when absent; an existing one is left as it is (idempotent seed). */
  async ensure(accountId: string, name: string, kind: AccountKind = 'trader'): Promise<void> {
    await this.db.query(
      `INSERT INTO accounts (account_id, name, kind) VALUES ($1, $2, $3) ON CONFLICT (account_id) DO NOTHING`,
      [accountId, name, kind],
    );
  }

  /** Creates the account; false (nothing changed) when the id exists already. */
  async create(accountId: string, name: string, kind: AccountKind = 'trader'): Promise<boolean> {
    const result: unknown = await this.db.query(
      `INSERT INTO accounts (account_id, name, kind) VALUES ($1, $2, $3)
       ON CONFLICT (account_id) DO NOTHING RETURNING account_id`,
      [accountId, name, kind],
    );
    return returnedRows(result).length > 0;
  }

  async findById(accountId: string): Promise<AccountRow | null> {
    const rows = (await this.db.query(
      `SELECT account_id, name, kind, created_at FROM accounts WHERE account_id = $1`,
      [accountId],
    )) as { account_id: string; name: string; kind: AccountKind; created_at: Date }[];
    const r = rows[0];
    return r ? { accountId: r.account_id, name: r.name, kind: r.kind, createdAt: r.created_at } : null;
  }
}
