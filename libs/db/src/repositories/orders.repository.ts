import type {
  NewOrder as NewOrderRow,
  OrderEventRecord as OrderEventRow,
  OrderState as OrderStateRow,
  OrderStatus,
} from '@trading/contracts';
import type { DataSource, EntityManager } from 'typeorm';
import { pgArray } from '../pg-array';

// The order records are @trading/contracts' (the risk engine's own); re-exported under the row
// names so `NewOrderRow` and friends from @trading/db still compile.
export type {
  OrderStatus,
  NewOrder as NewOrderRow,
  OrderState as OrderStateRow,
  OrderEventRecord as OrderEventRow,
} from '@trading/contracts';

type Executor = DataSource | EntityManager;

// Multi-row writes pass one array per column to a PL/pgSQL function (migration
// SettlementWritePath) that inserts or updates from their `unnest`: one round trip per batch, a
// statement planned once per server connection instead of on every batch (docs/performance.md).
export const ORDER_CASTS = {
  insertOrders: [
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
  updateStates: ['text', 'bigint', 'bigint', 'bigint', 'bigint', 'text', 'text', 'bigint', 'bigint'],
  insertEvents: ['text', 'bigint', 'text', 'text', 'text', 'jsonb', 'bigint'],
};

/** `rows` (one array per row) as one array literal per column. */
function columns(rows: unknown[][], width: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < width; i++) out.push(pgArray(rows.map((row) => row[i])));
  return out;
}

/** `SELECT fn($1::t1[], $2::t2[], ...)`. */
function call(fn: string, casts: string[]): string {
  return `SELECT ${fn}(${casts.map((c, i) => `$${i + 1}::${c}[]`).join(', ')})`;
}

/** NewOrderRow rows as the function's column arrays. */
export function newOrderColumns(rows: NewOrderRow[]): string[] {
  return columns(
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
    ORDER_CASTS.insertOrders.length,
  );
}

/** OrderStateRow rows as the function's column arrays. */
export function orderStateColumns(rows: OrderStateRow[]): string[] {
  return columns(
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
    ORDER_CASTS.updateStates.length,
  );
}

/** OrderEventRow rows as the function's column arrays. */
export function orderEventColumns(rows: OrderEventRow[]): string[] {
  return columns(
    rows.map((r) => [
      r.symbol,
      r.seq,
      r.orderId,
      r.accountId,
      r.type,
      JSON.stringify(r.payload),
      r.emittedAt,
    ]),
    ORDER_CASTS.insertEvents.length,
  );
}

/** Orders and order events: written by the order-router in batches, idempotent on replay. */
export class OrdersRepository {
  constructor(private readonly db: DataSource) {}

  /** Inserts new orders; returns the ids that were not there yet. Existing ids are left alone. */
  async insertNew(rows: NewOrderRow[], tx: Executor = this.db): Promise<Set<string>> {
    if (rows.length === 0) return new Set();
    const params = newOrderColumns(rows);
    const inserted = (await tx.query(
      `${call('insert_orders', ORDER_CASTS.insertOrders)} AS order_id`,
      params,
    )) as {
      order_id: string;
    }[];
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

  /**
   * The amends in flight stored for these orders (migration OrderAmendsInFlight): by order, the
   * list oldest first as the risk engine reported it; orders without any are absent.
   */
  async findAmendsInFlight(
    orderIds: string[],
    tx: Executor = this.db,
  ): Promise<Map<string, { price?: number; qty?: number }[]>> {
    if (orderIds.length === 0) return new Map();
    const rows = (await tx.query(
      `SELECT order_id, amends FROM order_amends_in_flight WHERE order_id = ANY($1::text[])`,
      [orderIds],
    )) as { order_id: string; amends: string }[];
    return new Map(rows.map((r) => [r.order_id, JSON.parse(r.amends) as { price?: number; qty?: number }[]]));
  }

  /** Writes new states; a row only moves forward (`last_seq` guard), so a replay is a no-op. */
  async updateStates(rows: OrderStateRow[], tx: Executor = this.db): Promise<void> {
    if (rows.length === 0) return;
    const params = orderStateColumns(rows);
    // The guard (`last_seq <=`) is in the function (migration SettlementWritePath).
    await tx.query(call('update_order_states', ORDER_CASTS.updateStates), params);
  }

  async insertEvents(rows: OrderEventRow[], tx: Executor = this.db): Promise<void> {
    if (rows.length === 0) return;
    const params = orderEventColumns(rows);
    await tx.query(call('insert_order_events', ORDER_CASTS.insertEvents), params);
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
