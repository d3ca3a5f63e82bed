import { OPEN_ORDER_STATUSES } from '@trading/contracts';
import type { DataSource } from 'typeorm';

/** An order as the order-router persisted it; integers stay exact strings (bigint columns). */
export interface OrderRow {
  orderId: string;
  accountId: string;
  symbol: string;
  clientOrderId: string | null;
  side: 'buy' | 'sell';
  orderType: string;
  tif: string;
  postOnly: boolean;
  /** Ticks. */
  price: string | null;
  stopPrice: string | null;
  /** Lots. */
  displayQty: string | null;
  qty: string;
  filledQty: string;
  /** Sum of price x qty over fills, in ticks x lots. */
  filledNotional: string;
  status: string;
  reason: string | null;
  receivedAt: Date;
  createdAt: Date;
  updatedAt: Date;
  /** created_at in microseconds since the epoch (exact, unlike a Date): the pagination key. */
  createdAtKey: string;
  /** A market buy's quote budget in ticks x lots, null when it has none. */
  quoteBudget?: string | null;
}

export interface OrderListQuery {
  symbol?: string;
  status?: string;
  limit: number;
  /** Exclusive: rows strictly older than (createdAtKey, orderId). */
  after?: { createdAtKey: string; orderId: string };
}

const ORDER_COLUMNS = `order_id, account_id, symbol, client_order_id, side, order_type, tif, post_only,
  price::text, stop_price::text, display_qty::text, qty::text, filled_qty::text, filled_notional::text,
  status, reason, received_at, created_at, updated_at, (extract(epoch from created_at) * 1000000)::bigint::text AS created_at_key,
  quote_budget::text`;

type Raw = Record<string, unknown>;

// Microseconds since the epoch back to a timestamptz with integer arithmetic (no float rounding).
const FROM_MICROS = (param: string) => `(TIMESTAMPTZ 'epoch' + ${param}::bigint * INTERVAL '1 microsecond')`;

function toOrder(r: Raw): OrderRow {
  return {
    orderId: r.order_id as string,
    accountId: r.account_id as string,
    symbol: r.symbol as string,
    clientOrderId: (r.client_order_id as string | null) ?? null,
    side: r.side as 'buy' | 'sell',
    orderType: r.order_type as string,
    tif: r.tif as string,
    postOnly: r.post_only === true,
    price: (r.price as string | null) ?? null,
    stopPrice: (r.stop_price as string | null) ?? null,
    displayQty: (r.display_qty as string | null) ?? null,
    qty: r.qty as string,
    filledQty: r.filled_qty as string,
    filledNotional: r.filled_notional as string,
    status: r.status as string,
    reason: (r.reason as string | null) ?? null,
    receivedAt: r.received_at as Date,
    createdAt: r.created_at as Date,
    updatedAt: r.updated_at as Date,
    createdAtKey: r.created_at_key as string,
    quoteBudget: (r.quote_budget as string | null) ?? null,
  };
}

/** What OrderQueriesRepository.history selects: one symbol, from an order or a time, or the newest. */
export interface OrderHistoryQuery {
  symbol: string;
  /** Orders created at or after this order (of the same account), oldest first. */
  fromOrderId?: string;
  /** created_at within [start, end] (either bound optional). */
  start?: Date;
  end?: Date;
  limit: number;
}

/** @trading/contracts' OPEN_ORDER_STATUSES as an SQL list: `('pending', 'new', 'partially_filled')`. */
export const OPEN_STATUSES_SQL = `(${OPEN_ORDER_STATUSES.map((s) => `'${s}'`).join(', ')})`;

/**
 * Read side of orders for the API: every query is scoped to the caller's account (an order of
 * another account is indistinguishable from a missing one).
 */
export class OrderQueriesRepository {
  constructor(private readonly db: DataSource) {}

  async findOwn(accountId: string, orderId: string): Promise<OrderRow | null> {
    const rows = (await this.db.query(
      `SELECT ${ORDER_COLUMNS} FROM orders WHERE order_id = $1 AND account_id = $2`,
      [orderId, accountId],
    )) as Raw[];
    return rows[0] ? toOrder(rows[0]) : null;
  }

  /** Newest first, keyset-paginated on (created_at, order_id) (index orders_account_idx). */
  async listOwn(accountId: string, q: OrderListQuery): Promise<OrderRow[]> {
    const params: unknown[] = [accountId];
    const where = ['account_id = $1'];
    if (q.symbol !== undefined) {
      params.push(q.symbol);
      where.push(`symbol = $${params.length}`);
    }
    if (q.status !== undefined) {
      params.push(q.status);
      where.push(`status = $${params.length}`);
    }
    if (q.after) {
      params.push(q.after.createdAtKey, q.after.orderId);
      where.push(`(created_at, order_id) < (${FROM_MICROS(`$${params.length - 1}`)}, $${params.length})`);
    }
    params.push(q.limit);
    const rows = (await this.db.query(
      `SELECT ${ORDER_COLUMNS} FROM orders WHERE ${where.join(' AND ')}
       ORDER BY created_at DESC, order_id DESC LIMIT $${params.length}`,
      params,
    )) as Raw[];
    return rows.map(toOrder);
  }

  /**
   * What the own-orders stream's snapshot shows (ADR 0014): the account's open orders, balances
   * and last stream seq, read in one REPEATABLE READ transaction, so they are the state after
   * exactly the updates numbered up to `seq` (the router writes all three in one transaction).
   */
  async streamSnapshot(accountId: string): Promise<{
    seq: number;
    orders: OrderRow[];
    balances: { asset: string; available: bigint; held: bigint }[];
  }> {
    return this.db.transaction('REPEATABLE READ', async (m) => {
      const seq = (await m.query(`SELECT seq::text AS seq FROM account_stream_seq WHERE account_id = $1`, [
        accountId,
      ])) as { seq: string }[];
      const orders = (await m.query(
        `SELECT ${ORDER_COLUMNS} FROM orders WHERE account_id = $1 AND status IN ${OPEN_STATUSES_SQL}
         ORDER BY created_at, order_id`,
        [accountId],
      )) as Raw[];
      const balances = (await m.query(
        `SELECT asset, available::text AS available, held::text AS held FROM balances WHERE account_id = $1 ORDER BY asset`,
        [accountId],
      )) as { asset: string; available: string; held: string }[];
      return {
        seq: seq.length ? Number(seq[0].seq) : 0,
        orders: orders.map(toOrder),
        balances: balances.map((b) => ({
          asset: b.asset,
          available: BigInt(b.available),
          held: BigInt(b.held),
        })),
      };
    });
  }

  /** The account's orders that can still change (pending, new, partially filled), oldest first. */
  async openOwn(accountId: string, symbol: string | undefined, limit: number): Promise<OrderRow[]> {
    const rows = (await this.db.query(
      `SELECT ${ORDER_COLUMNS} FROM orders
       WHERE account_id = $1 AND ($2::text IS NULL OR symbol = $2) AND status IN ${OPEN_STATUSES_SQL}
       ORDER BY created_at, order_id LIMIT $3`,
      [accountId, symbol ?? null, limit],
    )) as Raw[];
    return rows.map(toOrder);
  }

  /**
   * One symbol's orders of the account, oldest first: from an order or a start time on, or (with
   * neither) the newest `limit` of them.
   */
  async history(accountId: string, q: OrderHistoryQuery): Promise<OrderRow[]> {
    const fromStart = q.fromOrderId !== undefined || q.start !== undefined;
    const rows = (await this.db.query(
      `SELECT ${ORDER_COLUMNS} FROM orders
       WHERE account_id = $1 AND symbol = $2
         AND ($3::text IS NULL OR (created_at, order_id) >=
              (SELECT created_at, order_id FROM orders WHERE account_id = $1 AND order_id = $3))
         AND ($4::timestamptz IS NULL OR created_at >= $4)
         AND ($5::timestamptz IS NULL OR created_at <= $5)
       ORDER BY created_at ${fromStart ? 'ASC' : 'DESC'}, order_id ${fromStart ? 'ASC' : 'DESC'}
       LIMIT $6`,
      [
        accountId,
        q.symbol,
        q.fromOrderId ?? null,
        q.start?.toISOString() ?? null,
        q.end?.toISOString() ?? null,
        q.limit,
      ],
    )) as Raw[];
    const orders = rows.map(toOrder);
    return fromStart ? orders : orders.reverse();
  }
}
