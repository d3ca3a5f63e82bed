// The exchange's one vocabulary: order sides, types, time in force, STP modes, order statuses and
// reject codes, and the predicates over them. Plain constants and functions with no imports, so
// the pure engines (type:domain) may use them: the matching engine with type-only imports (its
// hot path keeps its integer kinds), the risk engine at run time too.

export const SIDES = ['buy', 'sell'] as const;
export type Side = (typeof SIDES)[number];

export const ORDER_TYPES = ['limit', 'market', 'stop-limit', 'stop-market'] as const;
export type OrderType = (typeof ORDER_TYPES)[number];

/** Time in force of a limit (or triggered stop-limit) order; market orders are always immediate. */
export const TIMES_IN_FORCE = ['GTC', 'IOC', 'FOK'] as const;
export type TimeInForce = (typeof TIMES_IN_FORCE)[number];

/** Self-trade prevention mode of the taker, matched on the account. */
export const STP_MODES = ['none', 'cancel-taker', 'cancel-maker', 'cancel-both'] as const;
export type StpMode = (typeof STP_MODES)[number];

/** An order's lifecycle: `pending` until the engine answers, then as the engine's events say. */
export const ORDER_STATUSES = [
  'pending',
  'new',
  'partially_filled',
  'filled',
  'cancelled',
  'rejected',
  'expired',
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** Statuses after which nothing more can happen to an order. */
export const FINAL_ORDER_STATUSES = ['filled', 'cancelled', 'rejected', 'expired'] as const;
export type FinalOrderStatus = (typeof FINAL_ORDER_STATUSES)[number];
/** Statuses of an order that may still trade or be cancelled (its hold is still held). */
export const OPEN_ORDER_STATUSES = ['pending', 'new', 'partially_filled'] as const;
/** Open statuses the engine has acknowledged: the order rests on the book (or waits as a stop). */
export const RESTING_ORDER_STATUSES = ['new', 'partially_filled'] as const;

/** True when nothing more can happen to an order in this status. */
export function isFinalStatus(status: string): status is FinalOrderStatus {
  return status === 'filled' || status === 'cancelled' || status === 'rejected' || status === 'expired';
}

/** Limit and stop-limit orders carry a price; market and stop-market orders must not. */
export function isPricedOrderType(type: string): type is 'limit' | 'stop-limit' {
  return type === 'limit' || type === 'stop-limit';
}

/** Stop orders wait for their stop price before they match. */
export function isStopOrderType(type: string): type is 'stop-limit' | 'stop-market' {
  return type === 'stop-limit' || type === 'stop-market';
}

/** Market and stop-market orders: immediate, bounded by a protection price or a quote budget. */
export function isMarketOrderType(type: string): type is 'market' | 'stop-market' {
  return type === 'market' || type === 'stop-market';
}

/**
 * Every reason an order command is refused, one spelling each, wherever it is refused: at the edge
 * (the gateway's 4xx `code`), by the order-router before matching, or by the matching engine (an
 * order's `reason` and the engine's `rejected` event). The same check gives the same code at every
 * layer; docs/api.md lists them.
 */
export const REJECT_CODES = {
  // The market and the command's shape (edge, router, engine).
  UNKNOWN_SYMBOL: 'UNKNOWN_SYMBOL',
  MARKET_HALTED: 'MARKET_HALTED',
  INVALID_COMMAND: 'INVALID_COMMAND',
  INVALID_ORDER_ID: 'INVALID_ORDER_ID',
  INVALID_ACCOUNT_ID: 'INVALID_ACCOUNT_ID',
  INVALID_SIDE: 'INVALID_SIDE',
  INVALID_ORDER_TYPE: 'INVALID_ORDER_TYPE',
  INVALID_TIME_IN_FORCE: 'INVALID_TIME_IN_FORCE',
  INVALID_STP_MODE: 'INVALID_STP_MODE',
  /** An option that does not go with the order type (a price on a market order: edge and router; the engine names the option). */
  INVALID_ORDER_OPTIONS: 'INVALID_ORDER_OPTIONS',
  INVALID_POST_ONLY: 'INVALID_POST_ONLY',
  // Prices and quantities against the market rules (libs/contracts market-rules.ts).
  INVALID_PRICE: 'INVALID_PRICE',
  /** A decimal price that is not a multiple of the tick (edge only: past it prices are ticks). */
  PRICE_OFF_TICK: 'PRICE_OFF_TICK',
  PRICE_OUT_OF_BAND: 'PRICE_OUT_OF_BAND',
  INVALID_STOP_PRICE: 'INVALID_STOP_PRICE',
  INVALID_PROTECTION_PRICE: 'INVALID_PROTECTION_PRICE',
  INVALID_QUOTE_BUDGET: 'INVALID_QUOTE_BUDGET',
  INVALID_QUANTITY: 'INVALID_QUANTITY',
  INVALID_DISPLAY_QTY: 'INVALID_DISPLAY_QTY',
  BELOW_MIN_QTY: 'BELOW_MIN_QTY',
  BELOW_MIN_NOTIONAL: 'BELOW_MIN_NOTIONAL',
  NOTIONAL_OVERFLOW: 'NOTIONAL_OVERFLOW',
  /** A market or stop-market buy with neither protection price nor quote budget. */
  MARKET_BUY_UNBOUNDED: 'MARKET_BUY_UNBOUNDED',
  // Money and identity (router).
  INSUFFICIENT_FUNDS: 'INSUFFICIENT_FUNDS',
  /** An amend that would need a larger hold than the account has available. */
  AMEND_INSUFFICIENT_FUNDS: 'AMEND_INSUFFICIENT_FUNDS',
  DUPLICATE_CLIENT_ORDER_ID: 'DUPLICATE_CLIENT_ORDER_ID',
  /** A clientOrderId or commandId used again with a different body. */
  IDEMPOTENCY_KEY_REUSED: 'IDEMPOTENCY_KEY_REUSED',
  // The book (engine).
  DUPLICATE_ORDER_ID: 'DUPLICATE_ORDER_ID',
  STOP_WOULD_TRIGGER: 'STOP_WOULD_TRIGGER',
  POST_ONLY_WOULD_TAKE: 'POST_ONLY_WOULD_TAKE',
  FOK_CANNOT_FILL: 'FOK_CANNOT_FILL',
  NO_LIQUIDITY: 'NO_LIQUIDITY',
  UNKNOWN_ORDER: 'UNKNOWN_ORDER',
  NOT_AMENDABLE: 'NOT_AMENDABLE',
  INVALID_AMEND: 'INVALID_AMEND',
} as const;
export type RejectCode = keyof typeof REJECT_CODES;

/** The codes the matching engine refuses a command with (its `rejected` event's reason). */
export const ENGINE_REJECT_CODES = [
  'INVALID_COMMAND',
  'INVALID_ORDER_ID',
  'INVALID_ACCOUNT_ID',
  'INVALID_SIDE',
  'INVALID_ORDER_TYPE',
  'INVALID_TIME_IN_FORCE',
  'INVALID_STP_MODE',
  'INVALID_QUANTITY',
  'INVALID_PRICE',
  'INVALID_STOP_PRICE',
  'INVALID_PROTECTION_PRICE',
  'INVALID_QUOTE_BUDGET',
  'INVALID_DISPLAY_QTY',
  'INVALID_POST_ONLY',
  'BELOW_MIN_QTY',
  'NOTIONAL_OVERFLOW',
  'BELOW_MIN_NOTIONAL',
  'PRICE_OUT_OF_BAND',
  'DUPLICATE_ORDER_ID',
  'STOP_WOULD_TRIGGER',
  'POST_ONLY_WOULD_TAKE',
  'FOK_CANNOT_FILL',
  'NO_LIQUIDITY',
  'UNKNOWN_ORDER',
  'NOT_AMENDABLE',
  'INVALID_AMEND',
] as const satisfies readonly RejectCode[];
export type EngineRejectCode = (typeof ENGINE_REJECT_CODES)[number];

/** What the market rules shared by the gateway and the router refuse (market-rules.ts). */
export const MARKET_RULE_VIOLATIONS = [
  'UNKNOWN_SYMBOL',
  'MARKET_HALTED',
  'INVALID_PRICE',
  'INVALID_ORDER_OPTIONS',
  'INVALID_STOP_PRICE',
  'BELOW_MIN_QTY',
  'BELOW_MIN_NOTIONAL',
  'NOTIONAL_OVERFLOW',
] as const satisfies readonly RejectCode[];
export type MarketRuleViolation = (typeof MARKET_RULE_VIOLATIONS)[number];

/** The codes the order-router refuses a placement with before it reaches matching. */
export const ROUTER_REJECT_CODES = [
  ...MARKET_RULE_VIOLATIONS,
  'DUPLICATE_CLIENT_ORDER_ID',
  'INSUFFICIENT_FUNDS',
  'MARKET_BUY_UNBOUNDED',
] as const satisfies readonly RejectCode[];
export type RouterRejectCode = (typeof ROUTER_REJECT_CODES)[number];

/** Why the engine cancelled a resting order, a pending stop or a taker (a `cancelled` reason). */
export const CANCEL_REASONS = [
  /** A cancel command. */
  'USER',
  /** Self-trade prevention removed this side. */
  'SELF_TRADE',
  /** An amend asked for a total quantity at or below what is already filled. */
  'AMEND_TO_FILLED',
] as const;
export type CancelReason = (typeof CANCEL_REASONS)[number];

/** Why the engine dropped the unfilled part of an immediate order (an `expired` reason). */
export const EXPIRE_REASONS = [
  /** IOC limit, market or triggered stop-market remainder after matching. */
  'IMMEDIATE_REMAINDER',
  /** A triggered FOK stop-limit could not fill entirely. */
  'FOK_CANNOT_FILL',
  /** A triggered stop-market found no liquidity within its protection price. */
  'NO_LIQUIDITY',
  /** A market buy ran out of quote budget. */
  'BUDGET_EXHAUSTED',
] as const;
export type ExpireReason = (typeof EXPIRE_REASONS)[number];
