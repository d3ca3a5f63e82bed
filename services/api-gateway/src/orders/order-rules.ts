import {
  formatDecimal,
  isPricedOrderType,
  isStopOrderType,
  notionalViolation,
  parseDecimal,
  quantityViolation,
  scaleOf,
  toSteps,
  type MarketSpec,
  type PlaceOrderCommand,
  type StepResult,
} from '@trading/contracts';
import { ErrorCode, GatewayException } from '../errors/gateway.exception';
import type { AmendOrderRequest, PlaceOrderRequest } from './order-request.schema';

/** What a valid order request becomes: the command minus ids and timestamps. */
export type PlaceOrderFields = Omit<
  PlaceOrderCommand,
  'commandId' | 'accountId' | 'orderId' | 'receivedAt' | 'kind'
>;

function fail(code: ErrorCode, field: string, message: string): never {
  throw new GatewayException(code, message, field);
}

function describe(r: Exclude<StepResult, { ok: true }>, step: string, what: string): string {
  switch (r.reason) {
    case 'not_a_decimal':
      return `${what} must be a positive plain decimal string like "1.25"`;
    case 'zero':
      return `${what} must be greater than zero`;
    case 'not_a_multiple':
      return `${what} must be a multiple of ${step}`;
    case 'too_large':
      return `${what} is too large`;
  }
}

/** A price field in ticks; off-tick gets PRICE_OFF_TICK, anything else `invalidCode`. */
function priceTicks(value: string, market: MarketSpec, field: string, invalidCode: ErrorCode): number {
  const r = toSteps(value, market.tickSize);
  if (r.ok) return r.steps;
  fail(
    r.reason === 'not_a_multiple' ? ErrorCode.PRICE_OFF_TICK : invalidCode,
    field,
    describe(r, market.tickSize, field),
  );
}

function lots(value: string, market: MarketSpec, field: string, code: ErrorCode): number {
  const r = toSteps(value, market.lotSize);
  if (r.ok) return r.steps;
  fail(code, field, describe(r, market.lotSize, field));
}

/** tick x lot as a decimal string: the unit of notional and of a market buy's quote budget. */
export function tickLotSize(market: MarketSpec): string {
  const ts = scaleOf(market.tickSize);
  const ls = scaleOf(market.lotSize);
  return formatDecimal(parseDecimal(market.tickSize, ts)! * parseDecimal(market.lotSize, ls)!, ts + ls);
}

/** Market must exist and trade; returns it narrowed. */
export function requireTradingMarket(symbol: string, market: MarketSpec | undefined): MarketSpec {
  if (!market)
    fail(ErrorCode.UNKNOWN_SYMBOL, 'symbol', `unknown symbol ${JSON.stringify(symbol.slice(0, 32))}`);
  if (market.status !== 'trading')
    throw new GatewayException(ErrorCode.MARKET_HALTED, `${market.symbol} is halted`, 'symbol');
  return market;
}

/**
 * The static market rules, synchronously: known symbol, trading, tick, lot, minimum quantity and
 * notional (@trading/contracts' market rules, which the order-router checks again), and which
 * options go with which order type. Converts decimals to ticks and lots.
 */
export function validatePlaceOrder(req: PlaceOrderRequest, found: MarketSpec | undefined): PlaceOrderFields {
  const market = requireTradingMarket(req.symbol, found);
  const priced = isPricedOrderType(req.type);
  const stop = isStopOrderType(req.type);
  const tif = req.timeInForce ?? 'GTC';

  const qty = lots(req.quantity, market, 'quantity', ErrorCode.INVALID_QUANTITY);
  if (quantityViolation(qty, market)) {
    fail(
      ErrorCode.BELOW_MIN_QTY,
      'quantity',
      `quantity must be at least ${formatDecimal(BigInt(market.minQtyLots) * parseDecimal(market.lotSize, scaleOf(market.lotSize))!, scaleOf(market.lotSize))}`,
    );
  }

  let price: number | undefined;
  if (priced) {
    if (req.price === undefined)
      fail(ErrorCode.INVALID_PRICE, 'price', `price is required for ${req.type} orders`);
    price = priceTicks(req.price, market, 'price', ErrorCode.INVALID_PRICE);
    const notional = notionalViolation(price, qty, market);
    // NOTIONAL_OVERFLOW answers INVALID_QUANTITY at the edge (the quantity is what is too large).
    if (notional === 'NOTIONAL_OVERFLOW')
      fail(ErrorCode.INVALID_QUANTITY, 'quantity', 'price x quantity is too large');
    if (notional === 'BELOW_MIN_NOTIONAL') {
      fail(
        ErrorCode.BELOW_MIN_NOTIONAL,
        'quantity',
        `price x quantity must be at least ${market.minNotional} ${market.quoteAsset}`,
      );
    }
  } else {
    if (req.price !== undefined)
      fail(ErrorCode.INVALID_ORDER_OPTIONS, 'price', `${req.type} orders take no price`);
    if (req.displayQuantity !== undefined)
      fail(ErrorCode.INVALID_ORDER_OPTIONS, 'displayQuantity', `${req.type} orders cannot be icebergs`);
    // Matching runs them immediate-or-cancel whatever they say: a FOK would fill what it finds.
    if (tif === 'FOK')
      fail(ErrorCode.INVALID_ORDER_OPTIONS, 'timeInForce', `${req.type} orders cannot be FOK`);
  }

  let stopPrice: number | undefined;
  if (stop) {
    if (req.stopPrice === undefined)
      fail(ErrorCode.INVALID_STOP_PRICE, 'stopPrice', `stopPrice is required for ${req.type} orders`);
    stopPrice = priceTicks(req.stopPrice, market, 'stopPrice', ErrorCode.INVALID_STOP_PRICE);
  } else if (req.stopPrice !== undefined) {
    fail(ErrorCode.INVALID_ORDER_OPTIONS, 'stopPrice', `${req.type} orders take no stopPrice`);
  }

  if (req.postOnly === true && (req.type !== 'limit' || tif !== 'GTC')) {
    fail(ErrorCode.INVALID_ORDER_OPTIONS, 'postOnly', 'postOnly is only for GTC limit orders');
  }

  let displayQty: number | undefined;
  if (req.displayQuantity !== undefined) {
    displayQty = lots(req.displayQuantity, market, 'displayQuantity', ErrorCode.INVALID_DISPLAY_QTY);
    if (tif !== 'GTC') fail(ErrorCode.INVALID_DISPLAY_QTY, 'displayQuantity', 'iceberg orders must be GTC');
    if (displayQty > qty)
      fail(ErrorCode.INVALID_DISPLAY_QTY, 'displayQuantity', 'displayQuantity cannot exceed quantity');
  }

  let protectionPrice: number | undefined;
  if (req.protectionPrice !== undefined) {
    if (priced)
      fail(
        ErrorCode.INVALID_ORDER_OPTIONS,
        'protectionPrice',
        'protectionPrice is only for market and stop-market orders',
      );
    protectionPrice = priceTicks(
      req.protectionPrice,
      market,
      'protectionPrice',
      ErrorCode.INVALID_PROTECTION_PRICE,
    );
  }

  let quoteBudget: number | undefined;
  if (req.quoteBudget !== undefined) {
    if (priced || req.side !== 'buy') {
      fail(
        ErrorCode.INVALID_ORDER_OPTIONS,
        'quoteBudget',
        'quoteBudget is only for market and stop-market buys',
      );
    }
    const unit = tickLotSize(market);
    const r = toSteps(req.quoteBudget, unit);
    if (!r.ok) fail(ErrorCode.INVALID_QUOTE_BUDGET, 'quoteBudget', describe(r, unit, 'quoteBudget'));
    quoteBudget = r.steps;
  }

  // The router holds what an order can cost: a market buy needs a price or a budget that bounds it
  // (without one it would only be rejected later, asynchronously, as MARKET_BUY_UNBOUNDED).
  if (!priced && req.side === 'buy' && protectionPrice === undefined && quoteBudget === undefined)
    fail(
      ErrorCode.MARKET_BUY_UNBOUNDED,
      'protectionPrice',
      `a ${req.type} buy needs protectionPrice (the worst price it may pay) or quoteBudget (the most it may spend)`,
    );

  return {
    symbol: market.symbol,
    side: req.side,
    orderType: req.type,
    qty,
    price,
    tif,
    postOnly: req.postOnly ?? false,
    displayQty,
    stopPrice,
    protectionPrice,
    quoteBudget,
    stp: req.stpMode ?? 'none',
    clientOrderId: req.clientOrderId,
  };
}

/** Amend fields in ticks and lots; price only for orders that have one. */
export function validateAmend(
  req: AmendOrderRequest,
  market: MarketSpec,
  order: { orderType: string },
): { price?: number; qty?: number } {
  const priced = isPricedOrderType(order.orderType);
  const out: { price?: number; qty?: number } = {};
  if (req.price !== undefined) {
    if (!priced)
      fail(ErrorCode.INVALID_ORDER_OPTIONS, 'price', `${order.orderType} orders have no price to amend`);
    out.price = priceTicks(req.price, market, 'price', ErrorCode.INVALID_PRICE);
  }
  if (req.quantity !== undefined) {
    out.qty = lots(req.quantity, market, 'quantity', ErrorCode.INVALID_QUANTITY);
    if (quantityViolation(out.qty, market))
      fail(ErrorCode.BELOW_MIN_QTY, 'quantity', 'quantity is below the market minimum');
  }
  return out;
}
