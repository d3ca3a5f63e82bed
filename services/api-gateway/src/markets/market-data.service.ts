import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  depthSnapshotSchema,
  fromSteps,
  publicTradeSchema,
  redisKeys,
  tickerSchema,
  type DepthSnapshot,
  type MarketSpec,
  type PublicTrade,
  type Ticker,
} from '@trading/contracts';
import { CANDLE_INTERVALS } from '@trading/db';
import { DatabaseService, RedisService } from '@trading/nest-common';
import { z } from 'zod';
import { type ApiGatewayConfig, GATEWAY_CONFIG } from '../api-gateway.config';
import { dbCall, redisCall } from '../common/dependency-call';
import { HistoryReads } from '../common/history-reads';
import { ErrorCode, GatewayException } from '../errors/gateway.exception';
import { fromZodError } from '../errors/gateway-exception.filter';
import {
  candlesQuerySchema,
  depthQuerySchema,
  MAX_DEPTH_LEVELS,
  tradesQuerySchema,
} from './market-request.schema';
import { MarketLookupService } from './market-lookup.service';

const envelopeSchema = z.object({ seq: z.number().int().nonnegative(), data: z.unknown() });

export interface MarketView {
  symbol: string;
  baseAsset: string;
  quoteAsset: string;
  status: string;
  tickSize: string;
  lotSize: string;
  minQuantity: string;
  minNotional: string;
  makerFeeBps: number;
  takerFeeBps: number;
  /** Lowest / highest limit price accepted (the engine refuses others: PRICE_OUT_OF_BAND); null: none. */
  priceBandMin: string | null;
  priceBandMax: string | null;
}

/** A market as GET /v1/markets and the operator API answer it. */
export function marketView(m: MarketSpec): MarketView {
  return {
    symbol: m.symbol,
    baseAsset: m.baseAsset,
    quoteAsset: m.quoteAsset,
    status: m.status,
    tickSize: m.tickSize,
    lotSize: m.lotSize,
    minQuantity: fromSteps(m.minQtyLots, m.lotSize),
    minNotional: m.minNotional,
    makerFeeBps: m.makerFeeBps,
    takerFeeBps: m.takerFeeBps,
    priceBandMin: m.priceBandMin ?? null,
    priceBandMax: m.priceBandMax ?? null,
  };
}

export interface CandleView {
  time: string;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
  trades: number;
}

const BUCKET_MS: Record<keyof typeof CANDLE_INTERVALS, number> = {
  '1m': 60_000,
  '5m': 300_000,
  '1h': 3_600_000,
  '1d': 86_400_000,
};

/** Public market data: snapshots market-data keeps in Redis, candles from PostgreSQL. */
@Injectable()
export class MarketDataService {
  private readonly logger = new Logger(MarketDataService.name);

  constructor(
    private readonly redis: RedisService,
    private readonly db: DatabaseService,
    private readonly history: HistoryReads,
    private readonly markets: MarketLookupService,
    @Inject(GATEWAY_CONFIG) config: ApiGatewayConfig,
  ) {
    this.publicDepthQuery = depthQuerySchema(config.DEPTH_LEVELS);
  }

  /** `levels` as GET /v1/markets/:symbol/depth takes it: 1..DEPTH_LEVELS, what the snapshots carry. */
  private readonly publicDepthQuery: ReturnType<typeof depthQuerySchema>;
  private static readonly anyDepthQuery = depthQuerySchema(MAX_DEPTH_LEVELS);

  /** GET /v1/markets/:symbol/depth: the query checked against the levels published. */
  async publicDepth(symbol: string, query: unknown) {
    await this.market(symbol);
    const { levels } = parse(this.publicDepthQuery, query);
    return this.depth(symbol, { levels: String(levels) });
  }

  list(): MarketView[] {
    return this.markets.all().map(marketView);
  }

  /** The book to `levels` (1..100: whatever a snapshot may hold; the Binance dialect's depth). */
  async depth(symbol: string, query: unknown) {
    const market = await this.market(symbol);
    const { levels } = parse(MarketDataService.anyDepthQuery, query);
    const snap = await this.snapshot(redisKeys.depth(market.symbol), depthSnapshotSchema);
    const book: DepthSnapshot | null = snap?.data ?? null;
    return {
      symbol: market.symbol,
      seq: snap?.seq ?? 0,
      engineSeq: book?.engineSeq ?? 0,
      bids: book ? book.bids.slice(0, levels) : [],
      asks: book ? book.asks.slice(0, levels) : [],
      time: book?.time ?? null,
    };
  }

  async trades(
    symbol: string,
    query: unknown,
  ): Promise<{ symbol: string; seq: number; data: PublicTrade[] }> {
    const market = await this.market(symbol);
    const { limit } = parse(tradesQuerySchema, query);
    const snap = await this.snapshot(redisKeys.trades(market.symbol), z.array(publicTradeSchema));
    // market-data keeps them newest first.
    return { symbol: market.symbol, seq: snap?.seq ?? 0, data: (snap?.data ?? []).slice(0, limit) };
  }

  async ticker(symbol: string): Promise<{ symbol: string; seq: number; data: Ticker | null }> {
    const market = await this.market(symbol);
    const snap = await this.snapshot(redisKeys.ticker(market.symbol), tickerSchema);
    return { symbol: market.symbol, seq: snap?.seq ?? 0, data: snap?.data ?? null };
  }

  async candles(
    symbol: string,
    query: unknown,
  ): Promise<{ symbol: string; interval: string; data: CandleView[] }> {
    const market = await this.market(symbol);
    const q = parse(candlesQuerySchema, query);
    const to = q.to ?? new Date();
    const from = q.from ?? new Date(to.getTime() - q.limit * BUCKET_MS[q.interval]);
    if (from.getTime() >= to.getTime())
      throw new GatewayException(ErrorCode.VALIDATION_FAILED, 'from must be before to', 'from');
    const rows = await dbCall(this.db.dataSource, () =>
      this.history.read('candles', (r) => r.candles.find(market.symbol, q.interval, from, to, q.limit)),
    );
    return {
      symbol: market.symbol,
      interval: q.interval,
      data: rows.map((r) => ({
        time: r.bucket.toISOString(),
        open: fromSteps(BigInt(r.open), market.tickSize),
        high: fromSteps(BigInt(r.high), market.tickSize),
        low: fromSteps(BigInt(r.low), market.tickSize),
        close: fromSteps(BigInt(r.close), market.tickSize),
        volume: fromSteps(BigInt(r.volume), market.lotSize),
        trades: r.trades,
      })),
    };
  }

  private async market(symbol: string): Promise<MarketSpec> {
    const market = await this.markets.find(symbol);
    if (!market)
      throw new GatewayException(
        ErrorCode.UNKNOWN_SYMBOL,
        `unknown symbol ${JSON.stringify(symbol.slice(0, 32))}`,
        'symbol',
      );
    return market;
  }

  /** `{seq, data}` at the key, or null when absent; a malformed one is logged and treated as absent. */
  private async snapshot<T>(key: string, schema: z.ZodType<T>): Promise<{ seq: number; data: T } | null> {
    const redis = this.redis.redis;
    const raw = await redisCall(redis, () => redis.get(key));
    if (raw === null) return null;
    try {
      const env = envelopeSchema.parse(JSON.parse(raw));
      return { seq: env.seq, data: schema.parse(env.data) };
    } catch (err) {
      this.logger.warn(`malformed snapshot at ${key}: ${(err as Error).message.slice(0, 200)}`);
      return null;
    }
  }
}

function parse<T>(schema: z.ZodType<T>, query: unknown): T {
  const r = schema.safeParse(query ?? {});
  if (!r.success) throw fromZodError(r.error);
  return r.data;
}
