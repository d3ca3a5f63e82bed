import { formatDecimal, fromSteps, parseDecimal, scaleOf, type MarketSpec } from '@trading/contracts';
import type { AccountFill, OrderRow } from '@trading/db';

// Extra digits of the average price beyond the tick's own scale.
const AVERAGE_EXTRA_DIGITS = 8;

export interface OrderView {
  orderId: string;
  clientOrderId: string | null;
  symbol: string;
  side: string;
  type: string;
  timeInForce: string;
  postOnly: boolean;
  price: string | null;
  stopPrice: string | null;
  displayQuantity: string | null;
  quantity: string;
  filledQuantity: string;
  averagePrice: string | null;
  status: string;
  reason: string | null;
  receivedAt: string;
  createdAt: string;
  updatedAt: string;
}

export interface FillView {
  tradeId: string;
  orderId: string;
  symbol: string;
  side: string;
  liquidity: string;
  price: string;
  quantity: string;
  time: string;
}

/**
 * filled_notional / filled_qty (ticks) x tick, exact with BigInt, rounded down at the tick's
 * scale plus 8 digits: an average of 100.01 and 100.02 is 100.015, not a float.
 */
export function averagePrice(filledNotional: string, filledQty: string, tickSize: string): string | null {
  const qty = BigInt(filledQty);
  if (qty === 0n) return null;
  const scale = scaleOf(tickSize) + AVERAGE_EXTRA_DIGITS;
  const tick = parseDecimal(tickSize, scaleOf(tickSize))!;
  const units = (BigInt(filledNotional) * tick * 10n ** BigInt(AVERAGE_EXTRA_DIGITS)) / qty;
  return formatDecimal(units, scale);
}

const orNull = (v: string | null, step: string) => (v === null ? null : fromSteps(BigInt(v), step));

export function toOrderView(row: OrderRow, market: MarketSpec): OrderView {
  return {
    orderId: row.orderId,
    clientOrderId: row.clientOrderId,
    symbol: row.symbol,
    side: row.side,
    type: row.orderType,
    timeInForce: row.tif,
    postOnly: row.postOnly,
    // A market order's row may carry price 0 (none).
    price: row.price === null || row.price === '0' ? null : fromSteps(BigInt(row.price), market.tickSize),
    stopPrice:
      row.stopPrice === null || row.stopPrice === '0'
        ? null
        : fromSteps(BigInt(row.stopPrice), market.tickSize),
    displayQuantity: orNull(row.displayQty, market.lotSize),
    quantity: fromSteps(BigInt(row.qty), market.lotSize),
    filledQuantity: fromSteps(BigInt(row.filledQty), market.lotSize),
    averagePrice: averagePrice(row.filledNotional, row.filledQty, market.tickSize),
    status: row.status,
    reason: row.reason,
    receivedAt: row.receivedAt.toISOString(),
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

export function toFillView(row: AccountFill, market: MarketSpec): FillView {
  return {
    tradeId: row.tradeId,
    orderId: row.orderId,
    symbol: row.symbol,
    side: row.side,
    liquidity: row.liquidity,
    price: fromSteps(BigInt(row.price), market.tickSize),
    quantity: fromSteps(BigInt(row.qty), market.lotSize),
    time: row.executedAt.toISOString(),
  };
}
