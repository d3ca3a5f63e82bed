import type { DataSource } from 'typeorm';
import { OPEN_STATUSES_SQL } from './order-queries.repository';

export interface Discrepancy {
  check: 'conservation' | 'hold_explained' | 'ledger_replay' | 'closed_order_hold';
  subject: string;
  expected: string;
  actual: string;
}

/** The money invariants as SQL; each query returns only what is off. */
export class ReconciliationRepository {
  constructor(private readonly db: DataSource) {}

  /** Per asset, all balances (fee account included) equal deposits minus withdrawals. */
  async conservation(): Promise<Discrepancy[]> {
    const rows = (await this.db.query(`
      WITH inside AS (SELECT asset, sum(available + held) AS total FROM balances GROUP BY asset),
           external AS (SELECT asset, sum(available_delta + held_delta) AS net FROM ledger WHERE kind IN ('deposit', 'withdrawal') GROUP BY asset)
      SELECT coalesce(i.asset, e.asset) AS asset, coalesce(e.net, 0)::text AS expected, coalesce(i.total, 0)::text AS actual
      FROM inside i FULL JOIN external e ON e.asset = i.asset
      WHERE coalesce(i.total, 0) <> coalesce(e.net, 0)`)) as {
      asset: string;
      expected: string;
      actual: string;
    }[];
    return rows.map((r) => ({
      check: 'conservation',
      subject: r.asset,
      expected: r.expected,
      actual: r.actual,
    }));
  }

  /** Every held unit belongs to an open order. */
  async holdsExplained(): Promise<Discrepancy[]> {
    const rows = (await this.db.query(`
      WITH open_holds AS (
        SELECT account_id, hold_asset AS asset, sum(hold_remaining) AS held FROM orders
        WHERE status IN ${OPEN_STATUSES_SQL} AND hold_asset IS NOT NULL GROUP BY 1, 2)
      SELECT coalesce(b.account_id, o.account_id) || '/' || coalesce(b.asset, o.asset) AS subject,
             coalesce(o.held, 0)::text AS expected, coalesce(b.held, 0)::text AS actual
      FROM balances b FULL JOIN open_holds o ON o.account_id = b.account_id AND o.asset = b.asset
      WHERE coalesce(b.held, 0) <> coalesce(o.held, 0)`)) as {
      subject: string;
      expected: string;
      actual: string;
    }[];
    return rows.map((r) => ({
      check: 'hold_explained',
      subject: r.subject,
      expected: r.expected,
      actual: r.actual,
    }));
  }

  /** Replaying the ledger gives exactly the stored balances. */
  async ledgerReplay(): Promise<Discrepancy[]> {
    const rows = (await this.db.query(`
      WITH replay AS (SELECT account_id, asset, sum(available_delta) AS available, sum(held_delta) AS held FROM ledger GROUP BY 1, 2)
      SELECT coalesce(b.account_id, r.account_id) || '/' || coalesce(b.asset, r.asset) AS subject,
             coalesce(r.available, 0) || '+' || coalesce(r.held, 0) AS expected,
             coalesce(b.available, 0) || '+' || coalesce(b.held, 0) AS actual
      FROM balances b FULL JOIN replay r ON r.account_id = b.account_id AND r.asset = b.asset
      WHERE coalesce(b.available, 0) <> coalesce(r.available, 0) OR coalesce(b.held, 0) <> coalesce(r.held, 0)`)) as {
      subject: string;
      expected: string;
      actual: string;
    }[];
    return rows.map((r) => ({
      check: 'ledger_replay',
      subject: r.subject,
      expected: r.expected,
      actual: r.actual,
    }));
  }

  /** A finished order holds nothing. */
  async closedOrderHolds(): Promise<Discrepancy[]> {
    const rows = (await this.db.query(`
      SELECT order_id, status, hold_remaining::text AS held FROM orders
      WHERE status IN ('filled', 'cancelled', 'rejected', 'expired') AND hold_remaining <> 0 LIMIT 100`)) as {
      order_id: string;
      status: string;
      held: string;
    }[];
    return rows.map((r) => ({
      check: 'closed_order_hold',
      subject: `${r.order_id} (${r.status})`,
      expected: '0',
      actual: r.held,
    }));
  }

  async all(): Promise<Discrepancy[]> {
    return [
      ...(await this.conservation()),
      ...(await this.holdsExplained()),
      ...(await this.ledgerReplay()),
      ...(await this.closedOrderHolds()),
    ];
  }
}
