import type { DataSource, EntityManager } from 'typeorm';

export type OrderStatus = 'pending' | 'new' | 'partially_filled' | 'filled' | 'cancelled' | 'rejected' | 'expired';

export interface NewOrderRow {
  orderId: string;
  accountId: string;
  symbol: string;
  clientOrderId: string | null;
  side: 'buy' | 'sell';
  orderType: string;
  tif: string;
  postOnly: boolean;
  price: number | null;
  stopPrice: number | null;
  displayQty: number | null;
  qty: number;
  status: OrderStatus;
  reason: string | null;
  receivedAt: number;
}

export interface OrderStateRow {
  orderId: string;
  accountId: string;
  symbol: string;
  side: 'buy' | 'sell';
  price: number | null;
  qty: number;
  filledQty: number;
  /** Sum of price x qty over fills (ticks x lots), exact. */
  filledNotional: bigint;
  status: OrderStatus;
  reason: string | null;
  lastSeq: number;
}

export interface OrderEventRow {
  symbol: string;
  seq: number;
  orderId: string;
  accountId: string;
  type: string;
  payload: unknown;
  emittedAt: number;
}

type Executor = DataSource | EntityManager;

// Column lists for multi-row statements: one round trip per batch, whatever its size.
function values(rows: unknown[][], casts: string[]): { sql: string; params: unknown[] } {
  const params: unknown[] = [];
  const tuples = rows.map((row) => `(${row.map((v, i) => {
    params.push(v);
    return `$${params.length}${casts[i] ? `::${casts[i]}` : ''}`;
  }).join(', ')})`);
  return { sql: tuples.join(', '), params };
}

/** Orders and order events: written by the order-router in batches, idempotent on replay. */
export class OrdersRepository {
  constructor(private readonly db: DataSource) {}

  /** Inserts new orders; returns the ids that were not there yet. Existing ids are left alone. */
  async insertNew(rows: NewOrderRow[], tx: Executor = this.db): Promise<Set<string>> {
    if (rows.length === 0) return new Set();
    const { sql, params } = values(
      rows.map((r) => [r.orderId, r.accountId, r.symbol, r.clientOrderId, r.side, r.orderType, r.tif, r.postOnly, r.price, r.stopPrice, r.displayQty, r.qty, r.status, r.reason, r.receivedAt]),
      ['text', 'text', 'text', 'text', 'text', 'text', 'text', 'boolean', 'bigint', 'bigint', 'bigint', 'bigint', 'text', 'text', 'bigint'],
    );
    const inserted = (await tx.query(
      `INSERT INTO orders (order_id, account_id, symbol, client_order_id, side, order_type, tif, post_only, price, stop_price, display_qty, qty, status, reason, received_at)
       SELECT v.order_id, v.account_id, v.symbol, v.client_order_id, v.side, v.order_type, v.tif, v.post_only, v.price, v.stop_price, v.display_qty, v.qty, v.status, v.reason, to_timestamp(v.received_at / 1000.0)
       FROM (VALUES ${sql}) AS v(order_id, account_id, symbol, client_order_id, side, order_type, tif, post_only, price, stop_price, display_qty, qty, status, reason, received_at)
       ON CONFLICT DO NOTHING
       RETURNING order_id`,
      params,
    )) as { order_id: string }[];
    return new Set(inserted.map((r) => r.order_id));
  }

  async findStates(orderIds: string[], tx: Executor = this.db): Promise<Map<string, OrderStateRow>> {
    if (orderIds.length === 0) return new Map();
    const rows = (await tx.query(
      `SELECT order_id, account_id, symbol, side, price::text AS price, qty::text AS qty, filled_qty::text AS filled_qty,
              filled_notional::text AS filled_notional, status, reason, last_seq::text AS last_seq
       FROM orders WHERE order_id = ANY($1::text[])`,
      [orderIds],
    )) as Record<string, string | null>[];
    return new Map(
      rows.map((r) => [
        r.order_id!,
        {
          orderId: r.order_id!,
          accountId: r.account_id!,
          symbol: r.symbol!,
          side: r.side as 'buy' | 'sell',
          price: r.price === null ? null : Number(r.price),
          qty: Number(r.qty),
          filledQty: Number(r.filled_qty),
          filledNotional: BigInt(r.filled_notional!),
          status: r.status as OrderStatus,
          reason: r.reason,
          lastSeq: Number(r.last_seq),
        },
      ]),
    );
  }

  /** Writes new states; a row only moves forward (`last_seq` guard), so a replay is a no-op. */
  async updateStates(rows: OrderStateRow[], tx: Executor = this.db): Promise<void> {
    if (rows.length === 0) return;
    const { sql, params } = values(
      rows.map((r) => [r.orderId, r.price, r.qty, r.filledQty, r.filledNotional.toString(), r.status, r.reason, r.lastSeq]),
      ['text', 'bigint', 'bigint', 'bigint', 'bigint', 'text', 'text', 'bigint'],
    );
    await tx.query(
      `UPDATE orders o SET price = v.price, qty = v.qty, filled_qty = v.filled_qty, filled_notional = v.filled_notional,
              status = v.status, reason = v.reason, last_seq = v.last_seq, updated_at = now()
       FROM (VALUES ${sql}) AS v(order_id, price, qty, filled_qty, filled_notional, status, reason, last_seq)
       WHERE o.order_id = v.order_id AND o.last_seq < v.last_seq`,
      params,
    );
  }

  async insertEvents(rows: OrderEventRow[], tx: Executor = this.db): Promise<void> {
    if (rows.length === 0) return;
    const { sql, params } = values(
      rows.map((r) => [r.symbol, r.seq, r.orderId, r.accountId, r.type, JSON.stringify(r.payload), r.emittedAt]),
      ['text', 'bigint', 'text', 'text', 'text', 'jsonb', 'bigint'],
    );
    await tx.query(
      `INSERT INTO order_events (symbol, seq, order_id, account_id, type, payload, emitted_at)
       SELECT v.symbol, v.seq, v.order_id, v.account_id, v.type, v.payload, to_timestamp(v.emitted_at / 1000.0)
       FROM (VALUES ${sql}) AS v(symbol, seq, order_id, account_id, type, payload, emitted_at)
       ON CONFLICT DO NOTHING`,
      params,
    );
  }
}
