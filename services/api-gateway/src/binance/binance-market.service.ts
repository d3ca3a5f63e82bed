import { Inject, Injectable } from '@nestjs/common';
import { fromSteps, type MarketSpec } from '@trading/contracts';
import { type CandleInterval } from '@trading/db';
import { DatabaseService } from '@trading/nest-common';
import { type ApiGatewayConfig, GATEWAY_CONFIG } from '../api-gateway.config';
import { dbCall } from '../common/dependency-call';
import { HistoryReads } from '../common/history-reads';
import { MarketDataService } from '../markets/market-data.service';
import { MarketLookupService } from '../markets/market-lookup.service';
import { BinanceCode, BinanceError, illegal, invalidSymbol } from './binance.errors';
import type { BinanceParams } from './binance-params';
import { binanceSymbol, difference, exchangeInfoSymbol, product, quoteOf, quotient } from './binance.views';

/** Binance's kline intervals this venue has candles for, with their length. */
export const KLINE_INTERVALS: Readonly<Record<string, { interval: CandleInterval; ms: number }>> = {
  '1m': { interval: '1m', ms: 60_000 },
  '5m': { interval: '5m', ms: 300_000 },
  '1h': { interval: '1h', ms: 3_600_000 },
  '1d': { interval: '1d', ms: 86_400_000 },
};

const DAY_MS = 86_400_000;
const SYMBOL = /^[A-Z0-9_.-]{1,20}$/;

/** What a 24 h ticker request answers per symbol (FULL). */
export type Ticker24h = Record<string, string | number>;

/**
 * The public market data of the Binance dialect: the same markets, books, trades, tickers and
 * candles as /v1, in Binance's shapes and under Binance symbols (BTCUSDT for BTC-USDT).
 */
@Injectable()
export class BinanceMarketService {
  constructor(
    private readonly markets: MarketLookupService,
    private readonly data: MarketDataService,
    private readonly db: DatabaseService,
    private readonly history: HistoryReads,
    @Inject(GATEWAY_CONFIG) private readonly config: ApiGatewayConfig,
  ) {}

  /** Every market. */
  all(): MarketSpec[] {
    return this.markets.all();
  }

  /** Every market by its Binance symbol. */
  bySymbol(): Map<string, MarketSpec> {
    const map = new Map<string, MarketSpec>();
    // Two markets whose assets run together alike (AB-CD, ABC-D) would share a symbol: first wins.
    for (const m of this.markets.all()) if (!map.has(binanceSymbol(m))) map.set(binanceSymbol(m), m);
    return map;
  }

  /** The market of a Binance symbol: -1100 when it cannot be one, -1121 when there is none. */
  market(symbol: string): MarketSpec {
    if (!SYMBOL.test(symbol)) throw illegal('symbol', '^[A-Z0-9-_.]{1,20}$');
    const market = this.bySymbol().get(symbol);
    if (!market) throw invalidSymbol();
    return market;
  }

  /** The markets `symbol` or `symbols` (a JSON array) name, or every market with neither. */
  selected(params: BinanceParams): MarketSpec[] {
    const one = params.optional('symbol');
    const many = params.optional('symbols');
    if (one !== undefined && many !== undefined)
      throw new BinanceError(
        BinanceCode.INVALID_PARAMETER,
        "Parameter 'symbol' and 'symbols' cannot be sent together.",
      );
    if (one !== undefined) return [this.market(one)];
    if (many === undefined) return [...this.bySymbol().values()];
    let list: unknown;
    try {
      list = JSON.parse(many);
    } catch {
      throw illegal('symbols', '["BTCUSDT","ETHUSDT"]');
    }
    if (
      !Array.isArray(list) ||
      list.length === 0 ||
      list.length > 100 ||
      !list.every((s) => typeof s === 'string')
    )
      throw illegal('symbols', '["BTCUSDT","ETHUSDT"] (1 to 100 symbols)');
    return [...new Set(list as string[])].map((s) => this.market(s));
  }

  exchangeInfo(params: BinanceParams) {
    const markets = this.selected(params);
    const status = params.oneOf(
      'symbolStatus',
      ['TRADING', 'HALT', 'BREAK'] as const,
      () => illegal('symbolStatus', 'TRADING, HALT, BREAK'),
      false,
    );
    const permissions = params.optional('permissions');
    if (permissions !== undefined && !/SPOT/.test(permissions))
      throw illegal('permissions', 'SPOT (the only permission of this venue)');
    params.optional('showPermissionSets');
    params.finish();
    return {
      timezone: 'UTC',
      serverTime: Date.now(),
      rateLimits: [
        // Fixed one-second windows, per client IP and (signed requests) per API key.
        {
          rateLimitType: 'RAW_REQUESTS',
          interval: 'SECOND',
          intervalNum: 1,
          limit: this.config.RATE_LIMIT_PER_IP,
        },
        {
          rateLimitType: 'ORDERS',
          interval: 'SECOND',
          intervalNum: 1,
          limit: this.config.RATE_LIMIT_PER_KEY,
        },
      ],
      exchangeFilters: [],
      symbols: markets.map(exchangeInfoSymbol).filter((s) => status === undefined || s.status === status),
    };
  }

  async depth(params: BinanceParams) {
    const market = this.market(params.required('symbol'));
    const limit = params.integer('limit', 1, 5000) ?? 100;
    params.finish();
    // market-data keeps at most 100 levels a side (the engine's DEPTH_LEVELS).
    const book = await this.data.depth(market.symbol, { levels: '100' });
    return {
      lastUpdateId: book.engineSeq,
      bids: book.bids.slice(0, limit).map(([p, q]) => [p, q]),
      asks: book.asks.slice(0, limit).map(([p, q]) => [p, q]),
    };
  }

  /** GET /api/v3/trades: the newest trades, oldest first. */
  async recentTrades(params: BinanceParams) {
    const market = this.market(params.required('symbol'));
    const limit = params.integer('limit', 1, 1000) ?? 500;
    params.finish();
    const rows = await dbCall(this.db.dataSource, () =>
      this.history.read('trades', (r) => r.trades.range(market.symbol, { limit })),
    );
    return rows.map((t) => {
      const price = fromSteps(t.price, market.tickSize);
      const qty = fromSteps(t.qty, market.lotSize);
      return {
        id: t.seq,
        price,
        qty,
        quoteQty: quoteOf(BigInt(t.price) * BigInt(t.qty), market),
        time: t.executedAt.getTime(),
        isBuyerMaker: t.takerSide === 'sell',
        isBestMatch: true,
      };
    });
  }

  /** GET /api/v3/aggTrades: every trade is its own aggregate (first = last = its seq). */
  async aggTrades(params: BinanceParams) {
    const market = this.market(params.required('symbol'));
    const fromId = params.integer('fromId', 0, Number.MAX_SAFE_INTEGER);
    const start = params.time('startTime');
    const end = params.time('endTime');
    const limit = params.integer('limit', 1, 1000) ?? 500;
    params.finish();
    if (start && end && start.getTime() > end.getTime())
      throw new BinanceError(
        BinanceCode.INVALID_PARAMETER,
        "Parameter 'startTime' must not be after 'endTime'.",
      );
    const rows = await dbCall(this.db.dataSource, () =>
      this.history.read('trades', (r) =>
        r.trades.range(market.symbol, { fromSeq: fromId, start, end, limit }),
      ),
    );
    return rows.map((t) => ({
      a: t.seq,
      p: fromSteps(t.price, market.tickSize),
      q: fromSteps(t.qty, market.lotSize),
      f: t.seq,
      l: t.seq,
      T: t.executedAt.getTime(),
      m: t.takerSide === 'sell',
      M: true,
    }));
  }

  /**
   * GET /api/v3/klines from the candle relations (1m, 5m, 1h, 1d); quote volume and the taker-buy
   * volumes from the trades of the same buckets.
   */
  async klines(params: BinanceParams) {
    const market = this.market(params.required('symbol'));
    const name = params.required('interval');
    const iv = Object.prototype.hasOwnProperty.call(KLINE_INTERVALS, name)
      ? KLINE_INTERVALS[name]
      : undefined;
    if (!iv)
      throw new BinanceError(
        BinanceCode.INVALID_INTERVAL,
        `Invalid interval. (this venue has ${Object.keys(KLINE_INTERVALS).join(', ')})`,
      );
    const start = params.time('startTime');
    const end = params.time('endTime');
    const limit = params.integer('limit', 1, 1000) ?? 500;
    params.finish();
    // Whole buckets: the one holding startTime, endTime or now is included.
    const span = limit * iv.ms;
    const bucketOf = (t: number) => t - (t % iv.ms);
    const last = bucketOf(end ? end.getTime() : Date.now()) + iv.ms;
    const from = start ? bucketOf(start.getTime()) : last - span;
    const to = start ? Math.min(last, from + span) : last;
    if (from >= to) return [];
    const [rows, volumes] = await dbCall(this.db.dataSource, () =>
      this.history.read('candles', (r) =>
        Promise.all([
          r.candles.find(market.symbol, iv.interval, new Date(from), new Date(to), limit),
          r.trades.bucketVolumes(market.symbol, iv.ms, new Date(from), new Date(to + iv.ms)),
        ]),
      ),
    );
    return rows.map((r) => {
      const open = r.bucket.getTime();
      const v = volumes.get(open);
      return [
        open,
        fromSteps(BigInt(r.open), market.tickSize),
        fromSteps(BigInt(r.high), market.tickSize),
        fromSteps(BigInt(r.low), market.tickSize),
        fromSteps(BigInt(r.close), market.tickSize),
        fromSteps(BigInt(r.volume), market.lotSize),
        open + iv.ms - 1,
        v ? quoteOf(v.quoteVolume, market) : '0',
        r.trades,
        v ? fromSteps(BigInt(v.takerBuyVolume), market.lotSize) : '0',
        v ? quoteOf(v.takerBuyQuoteVolume, market) : '0',
        '0',
      ];
    });
  }

  /**
   * The markets of a ticker request, read before any await (so an unknown parameter is refused
   * before any work): one object for `symbol`, an array for `symbols` or all markets.
   */
  private async perSymbol<T>(
    params: BinanceParams,
    one: (m: MarketSpec) => Promise<T>,
    read: () => void = () => undefined,
  ): Promise<T | T[]> {
    const single = params.has('symbol');
    const markets = this.selected(params);
    read();
    params.finish();
    if (single) return one(markets[0]);
    return Promise.all(markets.map(one));
  }

  /** GET /api/v3/ticker/24hr (type FULL or MINI). */
  ticker24h(params: BinanceParams): Promise<Ticker24h | Ticker24h[]> {
    let type: 'FULL' | 'MINI' = 'FULL';
    return this.perSymbol(
      params,
      (m) => this.ticker(m, type),
      () => {
        type =
          params.oneOf('type', ['FULL', 'MINI'] as const, () => illegal('type', 'FULL, MINI'), false) ??
          'FULL';
      },
    );
  }

  private async ticker(market: MarketSpec, type: 'FULL' | 'MINI'): Promise<Ticker24h> {
    const [{ data: t }, book, recent] = await Promise.all([
      this.data.ticker(market.symbol),
      this.data.depth(market.symbol, { levels: '1' }),
      this.data.trades(market.symbol, { limit: '1' }),
    ]);
    const closeTime = t?.time ?? Date.now();
    const last = t?.last ?? null;
    const open = t?.open ?? null;
    const mini = {
      symbol: binanceSymbol(market),
      openPrice: open ?? '0',
      highPrice: t?.high ?? '0',
      lowPrice: t?.low ?? '0',
      lastPrice: last ?? '0',
      volume: t?.volume ?? '0',
      quoteVolume: t?.quoteVolume ?? '0',
      openTime: closeTime - DAY_MS,
      closeTime,
      firstId: -1,
      lastId: recent.data[0]?.seq ?? -1,
      count: t?.trades ?? 0,
    };
    if (type === 'MINI') return mini;
    const change = last !== null && open !== null ? difference(last, open) : '0';
    return {
      symbol: mini.symbol,
      priceChange: change,
      priceChangePercent: open !== null && last !== null ? percent(change, open) : '0',
      weightedAvgPrice: t ? quotient(t.quoteVolume, t.volume, 8) : '0',
      lastPrice: mini.lastPrice,
      lastQty: recent.data[0]?.qty ?? '0',
      bidPrice: book.bids[0]?.[0] ?? '0',
      bidQty: book.bids[0]?.[1] ?? '0',
      askPrice: book.asks[0]?.[0] ?? '0',
      askQty: book.asks[0]?.[1] ?? '0',
      openPrice: mini.openPrice,
      highPrice: mini.highPrice,
      lowPrice: mini.lowPrice,
      volume: mini.volume,
      quoteVolume: mini.quoteVolume,
      openTime: mini.openTime,
      closeTime: mini.closeTime,
      firstId: mini.firstId,
      lastId: mini.lastId,
      count: mini.count,
    };
  }

  /** GET /api/v3/ticker/price: the last trade's price ("0" before the first trade). */
  tickerPrice(params: BinanceParams) {
    return this.perSymbol(params, async (m) => ({
      symbol: binanceSymbol(m),
      price: (await this.data.ticker(m.symbol)).data?.last ?? '0',
    }));
  }

  /** GET /api/v3/ticker/bookTicker: the best bid and ask with their quantities. */
  bookTicker(params: BinanceParams) {
    return this.perSymbol(params, async (m) => {
      const book = await this.data.depth(m.symbol, { levels: '1' });
      return {
        symbol: binanceSymbol(m),
        bidPrice: book.bids[0]?.[0] ?? '0',
        bidQty: book.bids[0]?.[1] ?? '0',
        askPrice: book.asks[0]?.[0] ?? '0',
        askQty: book.asks[0]?.[1] ?? '0',
      };
    });
  }
}

/** (last - open) / open x 100 at 3 decimals, as Binance's priceChangePercent. */
export function percent(change: string, open: string): string {
  const negative = change.startsWith('-');
  return quotient(`${negative ? '-' : ''}${product(change.replace(/^-/, ''), '100')}`, open, 3);
}
