import { Inject, Injectable, Logger } from '@nestjs/common';
import { type Execution, type MarketSpec, type PublicTrade } from '@trading/contracts';
import { TradesRepository, type TradeInsert } from '@trading/db';
import type { ConsumedRecord } from '@trading/kafka';
import { MarketCatalogService } from '@trading/nest-common';
import type { MarketDataConfig } from './market-data.config';
import { MarketDataMetrics } from './market-data.metrics';
import { MARKET_DATA_CONFIG } from './market-data.tokens';
import { toDepthSnapshot, toPublicTrade, type TradeEvent } from './public-data.mapper';
import { RedisStreamPublisher } from './redis-stream.publisher';
import { TickerService } from './ticker.service';

interface SymbolWork {
  trades: { event: TradeEvent; time: number }[];
  depth: { value: NonNullable<Execution['depth']>; time: number } | null;
}

/**
 * Keeps the public data current from executions.v1 (MarketDataController hands it each partition
 * batch): trades into the database in one idempotent INSERT per batch, then per symbol the recent
 * trades, the L2 book and the 24 h ticker into Redis with their pub/sub updates. A batch is
 * committed only after all of it is done, so a crash redelivers it; every step skips what it has
 * already applied.
 */
@Injectable()
export class MarketDataService {
  private readonly logger = new Logger(MarketDataService.name);
  private assigned_ = 0;

  constructor(
    @Inject(MARKET_DATA_CONFIG) private readonly config: MarketDataConfig,
    private readonly trades: TradesRepository,
    private readonly catalog: MarketCatalogService,
    private readonly publisher: RedisStreamPublisher,
    private readonly ticker: TickerService,
    private readonly metrics: MarketDataMetrics,
  ) {}

  /** Partitions of executions.v1 this instance currently owns. */
  get assignedPartitions(): number {
    return this.assigned_;
  }

  /** A new assignment: the ticker's windows may have moved elsewhere meanwhile. */
  assigned(assignment: Record<string, number[]>): void {
    this.ticker.forget();
    this.assigned_ = Object.values(assignment).reduce((n, partitions) => n + partitions.length, 0);
  }

  /** One partition's batch of valid records, in offset order. Throwing retries the batch. */
  async handle(records: readonly ConsumedRecord<Execution>[]): Promise<void> {
    const rows: TradeInsert[] = [];
    const receivedAt = new Map<string, number>();
    const work = new Map<string, SymbolWork>();
    for (const { value: e } of records) {
      let w = work.get(e.symbol);
      if (!w) {
        w = { trades: [], depth: null };
        work.set(e.symbol, w);
      }
      for (const event of e.events) {
        if (event.type !== 'trade') continue;
        w.trades.push({ event, time: e.emittedAt });
        receivedAt.set(`${e.symbol}:${event.seq}`, e.receivedAt);
        rows.push({
          symbol: e.symbol,
          seq: event.seq,
          price: event.price,
          qty: event.qty,
          makerOrderId: event.makerOrderId,
          takerOrderId: event.takerOrderId,
          makerAccountId: event.makerAccountId,
          takerAccountId: event.takerAccountId,
          takerSide: event.takerSide,
          receivedAt: new Date(e.receivedAt),
          executedAt: new Date(e.emittedAt),
        });
      }
      if (e.depth && (!w.depth || e.depth.seq >= w.depth.value.seq))
        w.depth = { value: e.depth, time: e.emittedAt };
    }

    if (rows.length > 0) {
      // The rolling ticker's seed must be read before these trades can be in the table.
      for (const [symbol, w] of work) if (w.trades.length > 0) await this.ticker.ensureSeeded(symbol);
      await this.persist(rows, receivedAt);
      // The ticker takes every trade of the batch, in seq order; it skips the ones it has seen.
      for (const [symbol, w] of work) {
        if (w.trades.length === 0) continue;
        this.ticker.record(
          symbol,
          w.trades.map((t) => ({ seq: t.event.seq, price: t.event.price, qty: t.event.qty, time: t.time })),
        );
      }
    }

    for (const [symbol, w] of work) {
      if (w.trades.length === 0 && !w.depth) continue;
      const market = this.catalog.get(symbol) ?? (await this.catalog.refresh(symbol));
      if (!market) {
        // Without tick and lot sizes nothing can be shown; the trades are in the database.
        this.metrics.unknownSymbol.inc({ symbol });
        this.logger.error(`no market ${symbol} in the catalog; its public feeds are skipped`);
        continue;
      }
      await this.publishSymbol(market, w);
    }
  }

  private async persist(rows: TradeInsert[], receivedAt: Map<string, number>): Promise<void> {
    this.metrics.dbBatchRows.observe(rows.length);
    const end = this.metrics.dbWriteDuration.startTimer();
    let inserted: { symbol: string; seq: number }[];
    try {
      inserted = await this.trades.insertBatch(rows);
      end({ outcome: 'ok' });
    } catch (err) {
      end({ outcome: 'error' });
      throw err;
    }
    // Only rows this call inserted: a replay would report the original latency again.
    const now = Date.now();
    for (const { symbol, seq } of inserted) {
      this.metrics.tradesPersisted.inc({ symbol });
      const at = receivedAt.get(`${symbol}:${seq}`);
      if (at !== undefined) this.metrics.tradePersisted.observe(Math.max(0, now - at) / 1000);
    }
  }

  private async publishSymbol(market: MarketSpec, w: SymbolWork): Promise<void> {
    if (w.trades.length > 0) {
      const trades: PublicTrade[] = w.trades
        .sort((a, b) => a.event.seq - b.event.seq)
        .map((t) => toPublicTrade(market, t.event, t.time));
      const applied = await this.publisher.trades(
        market.symbol,
        trades,
        this.config.MARKET_DATA_RECENT_TRADES,
      );
      this.metrics.redisUpdates.inc({ channel: 'trades', outcome: 'ok' }, applied);
      if (trades.length > applied) {
        this.metrics.redisUpdates.inc({ channel: 'trades', outcome: 'duplicate' }, trades.length - applied);
      }
    }
    if (w.depth) {
      const snapshot = toDepthSnapshot(market, w.depth.value, w.depth.time);
      const seq = await this.publisher.depth(snapshot);
      this.metrics.redisUpdates.inc({ channel: 'depth', outcome: seq > 0 ? 'ok' : 'duplicate' });
      if (seq > 0) this.ticker.setBest(market.symbol, snapshot);
    }
    await this.ticker.request(market);
  }
}
