import type { DataSource } from 'typeorm';

/**
 * The order-router's side of the own-orders stream (ADR 0014): each account's last stream seq and
 * the stream records committed but maybe not yet produced (account_events_outbox, written by
 * RouterBatchRepository with the batch).
 */
export class AccountStreamRepository {
  constructor(private readonly db: DataSource) {}

  /** The accounts' last committed seqs; an account without a row is at 0. */
  async seqs(accountIds: string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>(accountIds.map((a) => [a, 0]));
    if (accountIds.length === 0) return out;
    const rows = (await this.db.query(
      `SELECT account_id, seq::text AS seq FROM account_stream_seq WHERE account_id = ANY($1::text[])`,
      [accountIds],
    )) as { account_id: string; seq: string }[];
    for (const r of rows) out.set(r.account_id, Number(r.seq));
    return out;
  }

  /** The partition's outbox, oldest first: each row the records of one committed batch. */
  async pending(partition: number): Promise<string[]> {
    const rows = (await this.db.query(
      `SELECT records FROM account_events_outbox WHERE router_partition = $1 ORDER BY id`,
      [partition],
    )) as { records: string }[];
    return rows.map((r) => r.records);
  }
}
