import type { OrderStatus, OrderType, Side } from './vocabulary';

// The order and ledger records of the exchange, in integers (ticks, lots, smallest units): what
// the risk engine (libs/risk-engine) decides and keeps, and what libs/db stores (its row types are
// these under their old names). Plain data, no imports but the vocabulary.

/** An order as the order-router keeps it and stores it after every change (the orders row). */
export interface OrderState {
  orderId: string;
  accountId: string;
  symbol: string;
  side: Side;
  orderType: OrderType;
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

/** The row a placement inserts (rejected placements included). */
export interface NewOrder {
  orderId: string;
  accountId: string;
  symbol: string;
  clientOrderId: string | null;
  side: Side;
  orderType: OrderType;
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

/** The order_events row of one engine event for one order; `payload` is the event. */
export interface OrderEventRecord<Payload = unknown> {
  symbol: string;
  seq: number;
  orderId: string;
  accountId: string;
  type: string;
  payload: Payload;
  emittedAt: number;
}

/** What moved money: operator movements, an order's hold and its release, a fill and its fee. */
export type LedgerKind = 'deposit' | 'withdrawal' | 'hold' | 'release' | 'trade' | 'fee';

/** One immutable ledger movement; `key` is its natural idempotency key. */
export interface LedgerEntry {
  key: string;
  accountId: string;
  asset: string;
  availableDelta: bigint;
  heldDelta: bigint;
  kind: LedgerKind;
  ref: string;
}

/** A ledger entry as stored and read back (its kind as the database returns it). */
export interface PostedEntry extends Omit<LedgerEntry, 'kind'> {
  kind: string;
}

/** One account's balance of one asset, in smallest units. */
export interface BalanceRecord {
  accountId: string;
  asset: string;
  available: bigint;
  held: bigint;
}
