// Public types of the matching engine. Everything here is plain data: commands, events and
// snapshots survive JSON.stringify/JSON.parse unchanged.

// The vocabulary (sides, order types, time in force, STP modes, reject, cancel and expire
// reasons) is @trading/contracts' own, imported as types only: nothing of it runs on the engine's
// hot path.
import type {
  CancelReason,
  EngineRejectCode,
  ExpireReason,
  OrderType,
  Side,
  StpMode,
  TimeInForce,
} from '@trading/contracts';

export type { CancelReason, ExpireReason, OrderType, Side, StpMode, TimeInForce } from '@trading/contracts';

/**
 * Why a command was refused (@trading/contracts' ENGINE_REJECT_CODES). A rejected command changes
 * no state except the sequence number.
 */
export type RejectReason = EngineRejectCode;

/**
 * Optional price band applied to limit prices (new limit, stop-limit and amended prices).
 * `maxDeviationTicks` is measured from the last trade price and ignored until the first trade.
 */
export interface PriceBand {
  minPrice?: number;
  maxPrice?: number;
  maxDeviationTicks?: number;
}

/**
 * Static market rules of one symbol. Prices are integer ticks and quantities integer lots;
 * `tickSize`/`lotSize` (smallest units of quote/base per tick/lot) are carried for callers that
 * convert decimals at the edge, the engine never uses them.
 */
export interface SymbolConfig {
  symbol: string;
  tickSize: number;
  lotSize: number;
  /** Minimum order quantity in lots (>= 1). */
  minQty: number;
  /** Minimum price x quantity in ticks x lots for priced orders (0 disables). */
  minNotional: number;
  priceBand?: PriceBand;
}

/** Fields shared by all commands. `inputOffset` is the caller's input position (e.g. Kafka offset). */
export interface CommandBase {
  inputOffset?: number;
}

/** Place an order. */
export interface NewOrderCommand extends CommandBase {
  type: 'new';
  orderId: string;
  accountId: string;
  side: Side;
  orderType: OrderType;
  /** Lots. For iceberg orders the total quantity. */
  qty: number;
  /** Limit price in ticks (limit and stop-limit). */
  price?: number;
  /** Default GTC. Ignored by market and stop-market orders. */
  tif?: TimeInForce;
  /** Limit GTC only: reject instead of taking liquidity. */
  postOnly?: boolean;
  /** Iceberg: lots shown in depth (limit or stop-limit GTC, 1..qty). */
  displayQty?: number;
  /** Stop orders: trigger on last trade price (buy when last >= stop, sell when last <= stop). */
  stopPrice?: number;
  /** Market and stop-market: worst price (ticks) the order may trade at. */
  protectionPrice?: number;
  /** Market and stop-market buys: maximum sum of price x qty (ticks x lots) to spend. */
  quoteBudget?: number;
  /** Default 'none'. */
  stp?: StpMode;
}

/** Cancel a resting order or a pending stop. */
export interface CancelCommand extends CommandBase {
  type: 'cancel';
  orderId: string;
}

/**
 * Amend a resting order. `qty` is the new total quantity (filled + remaining).
 * Same price and smaller qty keeps priority; a price change or a larger qty loses it and the
 * order re-enters as a taker (it may trade). A qty at or below the filled quantity cancels it.
 */
export interface AmendCommand extends CommandBase {
  type: 'amend';
  orderId: string;
  price?: number;
  qty?: number;
}

/** Any command the engine accepts. */
export type EngineCommand = NewOrderCommand | CancelCommand | AmendCommand;

/** Order accepted (validated); the events that follow describe what happened to it. */
export interface AcceptedEvent {
  type: 'accepted';
  seq: number;
  orderId: string;
  accountId: string;
  side: Side;
  orderType: OrderType;
  /** Limit price, or the protection price of a market order, 0 when none. */
  price: number;
  qty: number;
}

/** Command refused; nothing changed. */
export interface RejectedEvent {
  type: 'rejected';
  seq: number;
  command: EngineCommand['type'] | 'unknown';
  orderId: string;
  /** Empty when the command carries none (cancel, amend of an unknown order). */
  accountId: string;
  reason: RejectReason;
}

/** The order (or its remainder) now rests in the book. */
export interface RestedEvent {
  type: 'rested';
  seq: number;
  orderId: string;
  accountId: string;
  side: Side;
  price: number;
  remainingQty: number;
  /** Quantity shown in depth (differs from remainingQty for icebergs). */
  visibleQty: number;
}

/** One fill between a resting maker and an incoming taker, at the maker's price. */
export interface TradeEvent {
  type: 'trade';
  seq: number;
  price: number;
  qty: number;
  makerOrderId: string;
  takerOrderId: string;
  makerAccountId: string;
  takerAccountId: string;
  takerSide: Side;
  makerRemainingQty: number;
  takerRemainingQty: number;
}

/** A resting order, pending stop or taker remainder was removed. */
export interface CancelledEvent {
  type: 'cancelled';
  seq: number;
  orderId: string;
  accountId: string;
  remainingQty: number;
  reason: CancelReason;
}

/** A resting order was amended. */
export interface AmendedEvent {
  type: 'amended';
  seq: number;
  orderId: string;
  accountId: string;
  price: number;
  qty: number;
  remainingQty: number;
  keptPriority: boolean;
}

/** The unfilled part of an immediate order was dropped. */
export interface ExpiredEvent {
  type: 'expired';
  seq: number;
  orderId: string;
  accountId: string;
  remainingQty: number;
  reason: ExpireReason;
}

/** A stop order was triggered by the last trade price and now executes. */
export interface TriggeredEvent {
  type: 'triggered';
  seq: number;
  orderId: string;
  accountId: string;
  stopPrice: number;
  lastPrice: number;
}

/** Everything the engine emits. `seq` is gap-free per symbol, starting at 1. */
export type EngineEvent =
  | AcceptedEvent
  | RejectedEvent
  | RestedEvent
  | TradeEvent
  | CancelledEvent
  | AmendedEvent
  | ExpiredEvent
  | TriggeredEvent;

/** One aggregated price level: visible quantity only, and the number of orders. */
export interface DepthLevel {
  price: number;
  qty: number;
  orders: number;
}

/** L2 depth, best level first on each side. */
export interface DepthView {
  bids: DepthLevel[];
  asks: DepthLevel[];
}

/** Read-only view of a live order (resting or pending stop). */
export interface OrderView {
  orderId: string;
  accountId: string;
  side: Side;
  orderType: OrderType;
  price: number;
  qty: number;
  remainingQty: number;
  visibleQty: number;
  /** True while a stop waits for its trigger. */
  pending: boolean;
}

/**
 * Resting order in a snapshot:
 * [orderId, accountId, price, qty, remaining, visible, displayQty (0 = none), stp code, postOnly 0|1].
 * Side is given by the array holding it.
 */
export type SnapshotOrder = [string, string, number, number, number, number, number, number, number];

/**
 * Pending stop in a snapshot:
 * [orderId, accountId, side 0 buy | 1 sell, kind 0 stop-market | 1 stop-limit, stopPrice, price,
 *  qty, tif code, displayQty, stp code, protectionPrice (0 = none), quoteBudget (0 = none)].
 */
export type SnapshotStop = [
  string,
  string,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
];

/**
 * Versioned, JSON-serialisable full state. `bids`/`asks` list orders best level first, in time
 * priority within a level; `stops` lists pending buy stops then sell stops in trigger order.
 */
export interface EngineSnapshot {
  v: 1;
  config: SymbolConfig;
  seq: number;
  /** 0 until the first trade. */
  lastPrice: number;
  inputOffset: number | null;
  bids: SnapshotOrder[];
  asks: SnapshotOrder[];
  stops: SnapshotStop[];
}
