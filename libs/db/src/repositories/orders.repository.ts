import type { DataSource, EntityManager } from 'typeorm';

export type OrderStatus =
  'pending' | 'new' | 'partially_filled' | 'filled' | 'cancelled' | 'rejected' | 'expired';

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
  protectionPrice: number | null;
  quoteBudget: number | null;
  holdAsset: string | null;
  holdRemaining: bigint;
  makerFeeBps: number;
  takerFeeBps: number;
}

export interface OrderStateRow {
  orderId: string;
  accountId: string;
  symbol: string;
  side: 'buy' | 'sell';
  orderType: 'limit' | 'market' | 'stop-limit' | 'stop-market';
  price: number | null;
  protectionPrice: number | null;
  quoteBudget: number | null;
  qty: number;
  filledQty: number;
  /** Sum of price x qty over fills (ticks x lots), exact. */
  filledNotional: bigint;
  status: OrderStatus;
  reason: string | null;
  lastSeq: number;
  holdAsset: string | null;
  /** Smallest units of holdAsset still held for the order. */
  holdRemaining: bigint;
  makerFeeBps: number;
  takerFeeBps: number;
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

// Multi-row statements as `unnest` of one array per column: one round trip per batch, and the
// same short statement text whatever the batch size (a VALUES list of N rows is a new statement
// of N x columns parameters that PostgreSQL parses and plans every time; docs/performance.md).
function values(rows: unknown[][], casts: string[]): { sql: string; params: unknown[] } {
  const params = casts.map((_, i) => rows.map((row) => row[i]));
  return { sql: `SELECT * FROM unnest(${casts.map((c, i) => `$${i + 1}::${c}[]`).join(', ')})`, params };
}

/** Orders and order events: written by the order-router in batches, idempotent on replay. */
export class OrdersRepository {
  constructor(private readonly db: DataSource) {}

  /** Inserts new orders; returns the ids that were not there yet. Existing ids are left alone. */
  async insertNew(rows: NewOrderRow[], tx: Executor = this.db): Promise<Set<string>> {
    if (rows.length === 0) return new Set();
    const { sql, params } = values(
      rows.map((r) => [
        r.orderId,
        r.accountId,
        r.symbol,
        r.clientOrderId,
        r.side,
        r.orderType,
        r.tif,
        r.postOnly,
        r.price,
        r.stopPrice,
        r.displayQty,
        r.qty,
        r.status,
        r.reason,
        r.receivedAt,
        r.protectionPrice,
        r.quoteBudget,
        r.holdAsset,
        r.holdRemaining.toString(),
        r.makerFeeBps,
        r.takerFeeBps,
      ]),
      [
        'text',
        'text',
        'text',
        'text',
        'text',
        'text',
        'text',
        'boolean',
        'bigint',
        'bigint',
        'bigint',
        'bigint',
        'text',
        'text',
        'bigint',
        'bigint',
        'bigint',
        'text',
        'bigint',
        'int',
        'int',
      ],
    );
    const inserted = (await tx.query(
      `INSERT INTO orders (order_id, account_id, symbol, client_order_id, side, order_type, tif, post_only, price, stop_price, display_qty, qty, status, reason, received_at,
                           protection_price, quote_budget, hold_asset, hold_remaining, maker_fee_bps, taker_fee_bps)
       SELECT v.order_id, v.account_id, v.symbol, v.client_order_id, v.side, v.order_type, v.tif, v.post_only, v.price, v.stop_price, v.display_qty, v.qty, v.status, v.reason,
              to_timestamp(v.received_at / 1000.0), v.protection_price, v.quote_budget, v.hold_asset, v.hold_remaining, v.maker_fee_bps, v.taker_fee_bps
       FROM (${sql}) AS v(order_id, account_id, symbol, client_order_id, side, order_type, tif, post_only, price, stop_price, display_qty, qty, status, reason, received_at,
                                 protection_price, quote_budget, hold_asset, hold_remaining, maker_fee_bps, taker_fee_bps)
       ON CONFLICT DO NOTHING
       RETURNING order_id`,
      params,
    )) as { order_id: string }[];
    return new Set(inserted.map((r) => r.order_id));
  }

  async findStates(orderIds: string[], tx: Executor = this.db): Promise<Map<string, OrderStateRow>> {
    if (orderIds.length === 0) return new Map();
    const rows = (await tx.query(
      `SELECT order_id, account_id, symbol, side, order_type, price::text AS price, protection_price::text AS protection_price,
              quote_budget::text AS quote_budget, qty::text AS qty, filled_qty::text AS filled_qty,
              filled_notional::text AS filled_notional, status, reason, last_seq::text AS last_seq, hold_asset, hold_remaining::text AS hold_remaining,
              maker_fee_bps::text AS maker_fee_bps, taker_fee_bps::text AS taker_fee_bps
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
          orderType: r.order_type as OrderStateRow['orderType'],
          price: r.price === null ? null : Number(r.price),
          protectionPrice: r.protection_price === null ? null : Number(r.protection_price),
          quoteBudget: r.quote_budget === null ? null : Number(r.quote_budget),
          qty: Number(r.qty),
          filledQty: Number(r.filled_qty),
          filledNotional: BigInt(r.filled_notional!),
          status: r.status as OrderStatus,
          reason: r.reason,
          lastSeq: Number(r.last_seq),
          holdAsset: r.hold_asset,
          holdRemaining: BigInt(r.hold_remaining!),
          makerFeeBps: Number(r.maker_fee_bps),
          takerFeeBps: Number(r.taker_fee_bps),
        },
      ]),
    );
  }

  /** Writes new states; a row only moves forward (`last_seq` guard), so a replay is a no-op. */
  async updateStates(rows: OrderStateRow[], tx: Executor = this.db): Promise<void> {
    if (rows.length === 0) return;
    const { sql, params } = values(
      rows.map((r) => [
        r.orderId,
        r.price,
        r.qty,
        r.filledQty,
        r.filledNotional.toString(),
        r.status,
        r.reason,
        r.lastSeq,
        r.holdRemaining.toString(),
      ]),
      ['text', 'bigint', 'bigint', 'bigint', 'bigint', 'text', 'text', 'bigint', 'bigint'],
    );
    // `<=`: a hold change from an amend arrives without a new engine event.
    await tx.query(
      `UPDATE orders o SET price = v.price, qty = v.qty, filled_qty = v.filled_qty, filled_notional = v.filled_notional,
              status = v.status, reason = v.reason, last_seq = v.last_seq, hold_remaining = v.hold_remaining, updated_at = now()
       FROM (${sql}) AS v(order_id, price, qty, filled_qty, filled_notional, status, reason, last_seq, hold_remaining)
       WHERE o.order_id = v.order_id AND o.last_seq <= v.last_seq`,
      params,
    );
  }

  async insertEvents(rows: OrderEventRow[], tx: Executor = this.db): Promise<void> {
    if (rows.length === 0) return;
    const { sql, params } = values(
      rows.map((r) => [
        r.symbol,
        r.seq,
        r.orderId,
        r.accountId,
        r.type,
        JSON.stringify(r.payload),
        r.emittedAt,
      ]),
      ['text', 'bigint', 'text', 'text', 'text', 'jsonb', 'bigint'],
    );
    await tx.query(
      `INSERT INTO order_events (symbol, seq, order_id, account_id, type, payload, emitted_at)
       SELECT v.symbol, v.seq, v.order_id, v.account_id, v.type, v.payload, to_timestamp(v.emitted_at / 1000.0)
       FROM (${sql}) AS v(symbol, seq, order_id, account_id, type, payload, emitted_at)
       ON CONFLICT DO NOTHING`,
      params,
    );
  }

  /** Order ids already holding these (account, clientOrderId) pairs. */
  async findByClientOrderIds(
    pairs: { accountId: string; clientOrderId: string }[],
    tx: Executor = this.db,
  ): Promise<Map<string, string>> {
    if (pairs.length === 0) return new Map();
    const rows = (await tx.query(
      `SELECT account_id, client_order_id, order_id FROM orders
       WHERE (account_id, client_order_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
      [pairs.map((p) => p.accountId), pairs.map((p) => p.clientOrderId)],
    )) as { account_id: string; client_order_id: string; order_id: string }[];
    return new Map(rows.map((r) => [`${r.account_id}\u0000${r.client_order_id}`, r.order_id]));
  }
}
