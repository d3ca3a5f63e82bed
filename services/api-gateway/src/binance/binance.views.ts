import {
  formatDecimal,
  fromSteps,
  isPricedOrderType,
  isStopOrderType,
  parseDecimal,
  scaleOf,
  type MarketSpec,
} from '@trading/contracts';
import type { OrderRow, SettledFill } from '@trading/db';
import { toDecimal } from '../money/money.views';

// What the Binance dialect answers with, built from the platform's integers (ticks, lots,
// smallest units) with exact BigInt arithmetic: every amount is a decimal string, never a float.

/** The Binance symbol of a market: base and quote run together (BTC-USDT is BTCUSDT). */
export const binanceSymbol = (m: Pick<MarketSpec, 'baseAsset' | 'quoteAsset'>): string =>
  `${m.baseAsset}${m.quoteAsset}`;

/** The order types this venue offers under their Binance names. */
export const ORDER_TYPES = ['LIMIT', 'LIMIT_MAKER', 'MARKET', 'STOP_LOSS_LIMIT'] as const;

/** selfTradePreventionMode values and the platform's stpMode each means. */
export const STP_MODES = {
  NONE: 'none',
  EXPIRE_TAKER: 'cancel-taker',
  EXPIRE_MAKER: 'cancel-maker',
  EXPIRE_BOTH: 'cancel-both',
} as const;
export type BinanceStpMode = keyof typeof STP_MODES;

const units = (step: string): bigint => parseDecimal(step, scaleOf(step))!;

/** An amount in ticks x lots (notional) as a decimal of the quote asset. */
export function quoteOf(tickLots: bigint | string, market: Pick<MarketSpec, 'tickSize' | 'lotSize'>): string {
  return formatDecimal(
    BigInt(tickLots) * units(market.tickSize) * units(market.lotSize),
    scaleOf(market.tickSize) + scaleOf(market.lotSize),
  );
}

/** a x b of two plain decimal strings, exactly. */
export function product(a: string, b: string): string {
  return formatDecimal(parseDecimal(a, scaleOf(a))! * parseDecimal(b, scaleOf(b))!, scaleOf(a) + scaleOf(b));
}

/** a - b of two plain decimal strings (the result may be negative). */
export function difference(a: string, b: string): string {
  const scale = Math.max(scaleOf(a), scaleOf(b));
  return formatDecimal(parseDecimal(a, scale)! - parseDecimal(b, scale)!, scale);
}

/** num / den rounded toward zero at `scale` digits; "0" when den is zero. */
export function quotient(num: string, den: string, scale: number): string {
  const s = Math.max(scaleOf(num), scaleOf(den));
  const n = parseDecimal(num.replace(/^-/, ''), s)!;
  const d = parseDecimal(den.replace(/^-/, ''), s)!;
  if (d === 0n) return '0';
  const negative = num.startsWith('-') !== den.startsWith('-') && n !== 0n;
  return formatDecimal(((n * 10n ** BigInt(scale)) / d) * (negative ? -1n : 1n), scale);
}

/** Binance's exchangeInfo entry of a market: its rules as PRICE_FILTER, LOT_SIZE and MIN_NOTIONAL. */
export function exchangeInfoSymbol(m: MarketSpec) {
  const maxSteps = BigInt(Number.MAX_SAFE_INTEGER);
  return {
    symbol: binanceSymbol(m),
    status: m.status === 'trading' ? 'TRADING' : 'BREAK',
    baseAsset: m.baseAsset,
    baseAssetPrecision: m.baseDecimals,
    quoteAsset: m.quoteAsset,
    quotePrecision: m.quoteDecimals,
    quoteAssetPrecision: m.quoteDecimals,
    baseCommissionPrecision: m.baseDecimals,
    quoteCommissionPrecision: m.quoteDecimals,
    orderTypes: [...ORDER_TYPES],
    icebergAllowed: true,
    ocoAllowed: false,
    otoAllowed: false,
    quoteOrderQtyMarketAllowed: true,
    allowTrailingStop: false,
    cancelReplaceAllowed: false,
    amendAllowed: false,
    isSpotTradingAllowed: true,
    isMarginTradingAllowed: false,
    filters: [
      {
        filterType: 'PRICE_FILTER',
        minPrice: m.tickSize,
        maxPrice: fromSteps(maxSteps, m.tickSize),
        tickSize: m.tickSize,
      },
      {
        filterType: 'LOT_SIZE',
        minQty: fromSteps(m.minQtyLots, m.lotSize),
        maxQty: fromSteps(maxSteps, m.lotSize),
        stepSize: m.lotSize,
      },
      {
        filterType: 'MARKET_LOT_SIZE',
        minQty: fromSteps(m.minQtyLots, m.lotSize),
        maxQty: fromSteps(maxSteps, m.lotSize),
        stepSize: m.lotSize,
      },
      // The minimum notional binds priced orders (limit, stop-limit), not market orders.
      { filterType: 'MIN_NOTIONAL', minNotional: m.minNotional, applyToMarket: false, avgPriceMins: 0 },
    ],
    permissions: ['SPOT'],
    permissionSets: [['SPOT']],
    defaultSelfTradePreventionMode: 'NONE',
    allowedSelfTradePreventionModes: Object.keys(STP_MODES),
  };
}

/**
 * An order's Binance status. A FOK that cannot fill and a market order without liquidity are
 * refused by the engine before they rest; Binance reports both as EXPIRED, and so does this. An
 * order removed by self-trade prevention is EXPIRED_IN_MATCH.
 */
export function binanceStatus(row: Pick<OrderRow, 'status' | 'reason'>): string {
  switch (row.status) {
    case 'pending':
      return 'PENDING_NEW';
    case 'new':
      return 'NEW';
    case 'partially_filled':
      return 'PARTIALLY_FILLED';
    case 'filled':
      return 'FILLED';
    case 'cancelled':
      return row.reason === 'SELF_TRADE' ? 'EXPIRED_IN_MATCH' : 'CANCELED';
    case 'expired':
      return 'EXPIRED';
    case 'rejected':
      return row.reason === 'FOK_CANNOT_FILL' || row.reason === 'NO_LIQUIDITY' ? 'EXPIRED' : 'REJECTED';
    default:
      return row.status.toUpperCase();
  }
}

/** The Binance type of a stored order. */
export function binanceType(row: Pick<OrderRow, 'orderType' | 'postOnly'>): string {
  switch (row.orderType) {
    case 'limit':
      return row.postOnly ? 'LIMIT_MAKER' : 'LIMIT';
    case 'market':
      return 'MARKET';
    case 'stop-limit':
      return 'STOP_LOSS_LIMIT';
    case 'stop-market':
      return 'STOP_LOSS';
    default:
      return row.orderType.toUpperCase();
  }
}

const stepsOrZero = (v: string | null | undefined, step: string): string =>
  v === null || v === undefined || v === '0' ? '0' : fromSteps(BigInt(v), step);

/** A stored order as Binance's query-order object. */
export function binanceOrder(row: OrderRow, market: MarketSpec) {
  const priced = isPricedOrderType(row.orderType);
  const stop = isStopOrderType(row.orderType);
  const time = row.receivedAt.getTime();
  return {
    symbol: binanceSymbol(market),
    orderId: row.orderId,
    orderListId: -1,
    clientOrderId: row.clientOrderId ?? '',
    price: priced ? stepsOrZero(row.price, market.tickSize) : '0',
    origQty: fromSteps(BigInt(row.qty), market.lotSize),
    executedQty: fromSteps(BigInt(row.filledQty), market.lotSize),
    cummulativeQuoteQty: quoteOf(row.filledNotional, market),
    status: binanceStatus(row),
    timeInForce: row.postOnly ? 'GTC' : row.tif,
    type: binanceType(row),
    side: row.side.toUpperCase(),
    stopPrice: stepsOrZero(row.stopPrice, market.tickSize),
    icebergQty: stepsOrZero(row.displayQty, market.lotSize),
    time,
    updateTime: row.updatedAt.getTime(),
    // A stop is working once it triggered; the stored row tells only once it traded.
    isWorking: !stop || row.filledQty !== '0',
    workingTime: time,
    origQuoteOrderQty:
      row.quoteBudget === null || row.quoteBudget === undefined ? '0' : quoteOf(row.quoteBudget, market),
  };
}

/** One fill of a placement's FULL answer. */
export function binanceOrderFill(f: SettledFill, market: MarketSpec) {
  return {
    price: fromSteps(f.price, market.tickSize),
    qty: fromSteps(f.qty, market.lotSize),
    commission: toDecimal(f.fee, market.quoteDecimals),
    commissionAsset: market.quoteAsset,
    tradeId: f.seq,
  };
}

/** One fill as GET /api/v3/myTrades lists it. */
export function binanceMyTrade(f: SettledFill, market: MarketSpec) {
  const price = fromSteps(f.price, market.tickSize);
  const qty = fromSteps(f.qty, market.lotSize);
  return {
    symbol: binanceSymbol(market),
    id: f.seq,
    orderId: f.orderId,
    orderListId: -1,
    price,
    qty,
    quoteQty: quoteOf(BigInt(f.price) * BigInt(f.qty), market),
    commission: toDecimal(f.fee, market.quoteDecimals),
    commissionAsset: market.quoteAsset,
    time: f.executedAt.getTime(),
    isBuyer: f.side === 'buy',
    isMaker: f.liquidity === 'maker',
    isBestMatch: true,
  };
}
