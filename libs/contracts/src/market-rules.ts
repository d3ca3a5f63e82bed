import { isPricedOrderType, isStopOrderType, type MarketRuleViolation } from './vocabulary';

// The static market rules in integers (ticks, lots), shared by the gateway (which checks them
// first, with a message per field) and the order-router (which checks them again: a command that
// reached Kafka from anywhere else, or a market halted since the gateway looked, is refused there).

/** What the rules need of a market (a structural subset of MarketSpec). */
export interface MarketLimits {
  status: 'trading' | 'halted';
  minQtyLots: number;
  /** Minimum notional in ticks x lots (0 = none). */
  minNotionalTickLots: number;
}

/** What the rules need of an order: quantity in lots, prices in ticks. */
export interface RuledOrder {
  orderType: string;
  qty: number;
  price?: number;
  stopPrice?: number;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** BELOW_MIN_QTY when the quantity (lots) is under the market's minimum. */
export function quantityViolation(qty: number, market: MarketLimits): 'BELOW_MIN_QTY' | null {
  return qty < market.minQtyLots ? 'BELOW_MIN_QTY' : null;
}

/** Price x quantity (ticks x lots) must stay a safe integer and reach the market's minimum. */
export function notionalViolation(
  price: number,
  qty: number,
  market: MarketLimits,
): 'NOTIONAL_OVERFLOW' | 'BELOW_MIN_NOTIONAL' | null {
  const notional = BigInt(price) * BigInt(qty);
  if (notional > MAX_SAFE) return 'NOTIONAL_OVERFLOW';
  if (notional < BigInt(market.minNotionalTickLots)) return 'BELOW_MIN_NOTIONAL';
  return null;
}

/** Every static rule in order: known, trading, price and stop price as the type wants, quantity, notional. */
export function checkMarketRules(
  order: RuledOrder,
  market: MarketLimits | undefined,
): MarketRuleViolation | null {
  if (!market) return 'UNKNOWN_SYMBOL';
  if (market.status !== 'trading') return 'MARKET_HALTED';
  const priced = isPricedOrderType(order.orderType);
  if (priced && order.price === undefined) return 'INVALID_PRICE';
  if (!priced && order.price !== undefined) return 'INVALID_ORDER_OPTIONS';
  if (isStopOrderType(order.orderType) && order.stopPrice === undefined) return 'INVALID_STOP_PRICE';
  const qty = quantityViolation(order.qty, market);
  if (qty) return qty;
  return priced && order.price !== undefined ? notionalViolation(order.price, order.qty, market) : null;
}
