import {
  formatDecimal,
  parseDecimal,
  scaleOf,
  type MarketSpec,
  type PublicTrade,
  type Ticker,
} from '@trading/contracts';
import type { BucketSummary } from '@trading/db';
import { KLINE_INTERVALS, percent } from './binance-market.service';
import { difference, quotient } from './binance.views';

// Binance's WebSocket market streams, built from the platform's stream messages: names, and the
// events as Binance spells them. Pure functions; every amount a decimal string, never a float.

/** Raw streams: /ws/<streamName> (ccxt connects to /ws/<n> and sends SUBSCRIBE). */
export const BINANCE_WS_PATH = '/ws';
/** Combined streams: /stream?streams=<a>/<b>, events wrapped as {stream, data}. */
export const BINANCE_COMBINED_PATH = '/stream';

export type StreamSpec =
  | { kind: 'trade' }
  | { kind: 'depth'; everyMs?: number }
  | { kind: 'partial'; levels: number; everyMs?: number }
  | { kind: 'kline'; interval: string; ms: number }
  | { kind: 'ticker' }
  | { kind: 'miniTicker' }
  | { kind: 'bookTicker' };

export interface ParsedStream {
  name: string;
  /** The Binance symbol, upper case (BTCUSDT). */
  symbol: string;
  spec: StreamSpec;
}

const STREAM_NAME =
  /^([a-z0-9]{1,20})@(trade|ticker|miniTicker|bookTicker|depth(5|10|20)?(?:@(100|1000)ms)?|kline_([0-9a-zA-Z]{1,3}))$/;

/** A stream name's symbol and kind, or null when it is not a stream this venue serves. */
export function parseStreamName(name: string): ParsedStream | null {
  const m = STREAM_NAME.exec(name);
  if (!m) return null;
  const symbol = m[1].toUpperCase();
  const kind = m[2];
  if (kind === 'trade' || kind === 'ticker' || kind === 'miniTicker' || kind === 'bookTicker')
    return { name, symbol, spec: { kind } };
  if (kind.startsWith('depth')) {
    // `@100ms` / `@1000ms`: the book at most that often (the hub folds the changes in between);
    // without it, every change (faster than Binance's 1,000 ms for `@depth`).
    const every = m[4] ? { everyMs: Number(m[4]) } : {};
    return m[3]
      ? { name, symbol, spec: { kind: 'partial', levels: Number(m[3]), ...every } }
      : { name, symbol, spec: { kind: 'depth', ...every } };
  }
  const interval = m[5];
  if (!Object.prototype.hasOwnProperty.call(KLINE_INTERVALS, interval)) return null;
  return { name, symbol, spec: { kind: 'kline', interval, ms: KLINE_INTERVALS[interval].ms } };
}

/** <symbol>@trade: one event per trade; the trade id is the platform's trade seq. */
export function tradeEvent(symbol: string, t: PublicTrade, now: number) {
  return {
    e: 'trade',
    E: now,
    s: symbol,
    t: t.seq,
    p: t.price,
    q: t.qty,
    T: t.time,
    m: t.takerSide === 'sell',
    M: true,
  };
}

type Level = readonly [string, string, ...unknown[]];
export interface Book {
  bids: readonly Level[];
  asks: readonly Level[];
}
export const EMPTY_BOOK: Book = { bids: [], asks: [] };

function sideDiff(prev: readonly Level[], next: readonly Level[]): [string, string][] {
  const before = new Map(prev.map(([p, q]) => [p, q]));
  const out: [string, string][] = [];
  const seen = new Set<string>();
  for (const [p, q] of next) {
    seen.add(p);
    if (before.get(p) !== q) out.push([p, q]);
  }
  for (const [p] of prev) if (!seen.has(p)) out.push([p, '0']);
  return out;
}

/** The levels that changed from `prev` to `next`, a removed level with quantity "0" (as Binance). */
export function depthDiff(prev: Book, next: Book): { b: [string, string][]; a: [string, string][] } {
  return { b: sideDiff(prev.bids, next.bids), a: sideDiff(prev.asks, next.asks) };
}

/**
 * <symbol>@depth: a depthUpdate with U..u the engine seqs it covers. `U` is the previous event's
 * u + 1 and `u` the engine seq of the book it leads to; GET /api/v3/depth's lastUpdateId is the
 * engine seq of its book, so Binance's recipe (apply from the event with U <= lastUpdateId + 1
 * <= u, then each U = previous u + 1) holds.
 */
export function depthUpdateEvent(
  symbol: string,
  firstId: number,
  lastId: number,
  diff: { b: [string, string][]; a: [string, string][] },
  now: number,
) {
  return { e: 'depthUpdate', E: now, s: symbol, U: firstId, u: lastId, b: diff.b, a: diff.a };
}

/** <symbol>@depth<levels>: the top of the book, lastUpdateId its engine seq. */
export function partialDepth(book: Book, lastUpdateId: number, levels: number) {
  const side = (l: readonly Level[]) => l.slice(0, levels).map(([p, q]): [string, string] => [p, q]);
  return { lastUpdateId, bids: side(book.bids), asks: side(book.asks) };
}

/** <symbol>@bookTicker: the best bid and ask with their quantities ("0" on an empty side). */
export function bookTickerEvent(symbol: string, book: Book, updateId: number) {
  return {
    u: updateId,
    s: symbol,
    b: book.bids[0]?.[0] ?? '0',
    B: book.bids[0]?.[1] ?? '0',
    a: book.asks[0]?.[0] ?? '0',
    A: book.asks[0]?.[1] ?? '0',
  };
}

const DAY_MS = 86_400_000;

/**
 * <symbol>@ticker: the 24 h rolling ticker as 24hrTicker. The platform's ticker carries neither
 * the last trade's quantity nor the best levels' quantities: Q, B and A are "0".
 */
export function tickerEvent(symbol: string, t: Ticker, now: number) {
  const last = t.last ?? '0';
  const open = t.open ?? '0';
  const change = t.last !== null && t.open !== null ? difference(t.last, t.open) : '0';
  return {
    e: '24hrTicker',
    E: now,
    s: symbol,
    p: change,
    P: t.last !== null && t.open !== null ? percent(change, t.open) : '0',
    w: quotient(t.quoteVolume, t.volume, 8),
    x: open,
    c: last,
    Q: '0',
    b: t.bestBid ?? '0',
    B: '0',
    a: t.bestAsk ?? '0',
    A: '0',
    o: open,
    h: t.high ?? '0',
    l: t.low ?? '0',
    v: t.volume,
    q: t.quoteVolume,
    O: t.time - DAY_MS,
    C: t.time,
    F: -1,
    L: -1,
    n: t.trades,
  };
}

/** <symbol>@miniTicker: the 24 h rolling ticker as 24hrMiniTicker (what ccxt's watchTicker asks for). */
export function miniTickerEvent(symbol: string, t: Ticker, now: number) {
  return {
    e: '24hrMiniTicker',
    E: now,
    s: symbol,
    c: t.last ?? '0',
    o: t.open ?? '0',
    h: t.high ?? '0',
    l: t.low ?? '0',
    v: t.volume,
    q: t.quoteVolume,
  };
}

/** A candle being built, in integer units: prices at the tick's scale, quantities at the lot's. */
export interface KlineState {
  start: number;
  open: bigint;
  high: bigint;
  low: bigint;
  close: bigint;
  volume: bigint;
  quote: bigint;
  takerBuy: bigint;
  takerBuyQuote: bigint;
  trades: number;
  firstId: number;
  lastId: number;
}

type Steps = Pick<MarketSpec, 'tickSize' | 'lotSize'>;
const unitsOf = (step: string): bigint => parseDecimal(step, scaleOf(step))!;

/** A bucket's stored trades (ticks, lots) as a candle state. */
export function klineFromSummary(s: BucketSummary, start: number, market: Steps): KlineState {
  const tick = unitsOf(market.tickSize);
  const lot = unitsOf(market.lotSize);
  return {
    start,
    open: BigInt(s.open) * tick,
    high: BigInt(s.high) * tick,
    low: BigInt(s.low) * tick,
    close: BigInt(s.close) * tick,
    volume: BigInt(s.volume) * lot,
    quote: BigInt(s.quoteVolume) * tick * lot,
    takerBuy: BigInt(s.takerBuyVolume) * lot,
    takerBuyQuote: BigInt(s.takerBuyQuoteVolume) * tick * lot,
    trades: s.trades,
    firstId: s.firstSeq,
    lastId: s.lastSeq,
  };
}

/**
 * Adds a trade to the candle of its bucket: `closed` is the previous candle when the trade opens
 * a new one. A trade at or below the candle's last trade id (already counted) changes nothing.
 */
export function klineApply(
  state: KlineState | null,
  t: PublicTrade,
  ms: number,
  market: Steps,
): { state: KlineState | null; closed: KlineState | null; changed: boolean } {
  if (state && t.seq <= state.lastId) return { state, closed: null, changed: false };
  const start = t.time - (t.time % ms);
  if (state && start < state.start) return { state, closed: null, changed: false };
  const price = parseDecimal(t.price, scaleOf(market.tickSize));
  const qty = parseDecimal(t.qty, scaleOf(market.lotSize));
  if (price === null || qty === null) return { state, closed: null, changed: false };
  const buy = t.takerSide === 'buy';
  if (!state || start > state.start) {
    return {
      closed: state,
      changed: true,
      state: {
        start,
        open: price,
        high: price,
        low: price,
        close: price,
        volume: qty,
        quote: price * qty,
        takerBuy: buy ? qty : 0n,
        takerBuyQuote: buy ? price * qty : 0n,
        trades: 1,
        firstId: t.seq,
        lastId: t.seq,
      },
    };
  }
  return {
    closed: null,
    changed: true,
    state: {
      ...state,
      high: price > state.high ? price : state.high,
      low: price < state.low ? price : state.low,
      close: price,
      volume: state.volume + qty,
      quote: state.quote + price * qty,
      takerBuy: state.takerBuy + (buy ? qty : 0n),
      takerBuyQuote: state.takerBuyQuote + (buy ? price * qty : 0n),
      trades: state.trades + 1,
      lastId: t.seq,
    },
  };
}

/** <symbol>@kline_<interval>: the candle as Binance's kline event; x tells it is closed. */
export function klineEvent(
  symbol: string,
  interval: string,
  ms: number,
  k: KlineState,
  closed: boolean,
  market: Steps,
  now: number,
) {
  const ps = scaleOf(market.tickSize);
  const qs = scaleOf(market.lotSize);
  return {
    e: 'kline',
    E: now,
    s: symbol,
    k: {
      t: k.start,
      T: k.start + ms - 1,
      s: symbol,
      i: interval,
      f: k.firstId,
      L: k.lastId,
      o: formatDecimal(k.open, ps),
      c: formatDecimal(k.close, ps),
      h: formatDecimal(k.high, ps),
      l: formatDecimal(k.low, ps),
      v: formatDecimal(k.volume, qs),
      n: k.trades,
      x: closed,
      q: formatDecimal(k.quote, ps + qs),
      V: formatDecimal(k.takerBuy, qs),
      Q: formatDecimal(k.takerBuyQuote, ps + qs),
      B: '0',
    },
  };
}
