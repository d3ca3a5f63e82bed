import {
  formatDecimal,
  fromSteps,
  parseDecimal,
  scaleOf,
  type DepthSnapshot,
  type EngineEventMessage,
  type Execution,
  type MarketSpec,
  type PublicTrade,
  type Ticker,
} from '@trading/contracts';
import type { TickerStats } from '@trading/db';

// Integers (ticks, lots) in, client-facing decimal strings out. Pure, so it is unit tested.

export type TradeEvent = Extract<EngineEventMessage, { type: 'trade' }>;
type Depth = NonNullable<Execution['depth']>;

/** `a` x `b` for decimal strings, exact. */
export function multiplyDecimals(a: string, b: string): string {
  const sa = scaleOf(a);
  const sb = scaleOf(b);
  const x = parseDecimal(a, sa);
  const y = parseDecimal(b, sb);
  if (x === null || y === null) throw new Error(`not decimals: ${a} x ${b}`);
  return formatDecimal(x * y, sa + sb);
}

export function toPublicTrade(market: MarketSpec, trade: TradeEvent, time: number): PublicTrade {
  return {
    symbol: market.symbol,
    tradeId: `${market.symbol}:${trade.seq}`,
    seq: trade.seq,
    price: fromSteps(trade.price, market.tickSize),
    qty: fromSteps(trade.qty, market.lotSize),
    takerSide: trade.takerSide,
    time,
  };
}

export function toDepthSnapshot(market: MarketSpec, depth: Depth, time: number): DepthSnapshot {
  const level = ([price, lots, orders]: [number, number, number]): [string, string, number] => [
    fromSteps(price, market.tickSize),
    fromSteps(lots, market.lotSize),
    orders,
  ];
  return {
    symbol: market.symbol,
    engineSeq: depth.seq,
    bids: depth.bids.map(level),
    asks: depth.asks.map(level),
    time,
  };
}

/** Top of book as decimal strings, taken from the last depth snapshot. */
export interface BestPrices {
  bestBid: string | null;
  bestAsk: string | null;
}

export function bestPrices(depth: Pick<DepthSnapshot, 'bids' | 'asks'>): BestPrices {
  return { bestBid: depth.bids[0]?.[0] ?? null, bestAsk: depth.asks[0]?.[0] ?? null };
}

export function toTicker(market: MarketSpec, stats: TickerStats, best: BestPrices, time: number): Ticker {
  const price = (ticks: string | null) => (ticks === null ? null : fromSteps(BigInt(ticks), market.tickSize));
  return {
    symbol: market.symbol,
    last: price(stats.last),
    open: price(stats.open),
    high: price(stats.high),
    low: price(stats.low),
    volume: fromSteps(BigInt(stats.volume), market.lotSize),
    // ticks x lots, one of which is worth tickSize x lotSize of the quote asset
    quoteVolume: fromSteps(BigInt(stats.quoteVolume), multiplyDecimals(market.tickSize, market.lotSize)),
    trades: stats.trades,
    bestBid: best.bestBid,
    bestAsk: best.bestAsk,
    time,
  };
}
