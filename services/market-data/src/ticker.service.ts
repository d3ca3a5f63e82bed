import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { MarketSpec } from '@trading/contracts';
import { TradesRepository } from '@trading/db';
import { MARKET_DATA_CONFIG } from './market-data.tokens';
import type { MarketDataConfig } from './market-data.config';
import { MarketDataMetrics } from './market-data.metrics';
import { bestPrices, toTicker, type BestPrices } from './public-data.mapper';
import { RedisStreamPublisher } from './redis-stream.publisher';
import { RollingTicker, type TickerTrade } from './rolling-ticker';

const DAY_MS = 24 * 60 * 60 * 1000;

interface SymbolState {
  lastRunAt: number;
  timer: NodeJS.Timeout | null;
  /** Serialises runs so a slower, older computation never overwrites a newer ticker. */
  chain: Promise<void>;
  market: MarketSpec;
}

/**
 * The 24 h ticker. Each symbol's rolling window (RollingTicker) is seeded once from the trades
 * table, so it is right after a restart or a rebalance, and then follows the trades this instance
 * consumes: no query per update. Published at most once per throttle window per symbol; a request
 * inside the window schedules one trailing run, so the last change is always published.
 */
@Injectable()
export class TickerService implements OnModuleDestroy {
  private readonly logger = new Logger(TickerService.name);
  private readonly symbols = new Map<string, SymbolState>();
  private readonly best = new Map<string, BestPrices>();
  private readonly rolling = new Map<string, RollingTicker>();
  private readonly seeding = new Map<string, Promise<RollingTicker>>();
  /** Bumped by forget(): a seed read before a rebalance is not kept after it. */
  private generation = 0;
  private stopped = false;

  constructor(
    @Inject(MARKET_DATA_CONFIG) private readonly config: MarketDataConfig,
    private readonly trades: TradesRepository,
    private readonly publisher: RedisStreamPublisher,
    private readonly metrics: MarketDataMetrics,
  ) {}

  /** Remembers the top of book the ticker reports (from the depth just published). */
  setBest(symbol: string, depth: Parameters<typeof bestPrices>[0]): void {
    this.best.set(symbol, bestPrices(depth));
  }

  /**
   * Loads the symbol's window from the database unless it is loaded. Call before inserting new
   * trades of the symbol, so a trade is counted by the seed or by `record`, never by both.
   */
  async ensureSeeded(symbol: string): Promise<RollingTicker> {
    const known = this.rolling.get(symbol);
    if (known) return known;
    let pending = this.seeding.get(symbol);
    if (!pending) {
      const generation = this.generation;
      pending = (async () => {
        const end = this.metrics.dbQueryDuration.startTimer({ query: 'ticker_seed' });
        try {
          const seed = await this.trades.tickerSeed(symbol, new Date(Date.now() - DAY_MS));
          end({ outcome: 'ok' });
          const r = new RollingTicker(seed.buckets, seed.lastTrade, DAY_MS);
          if (generation === this.generation) this.rolling.set(symbol, r);
          return r;
        } catch (err) {
          end({ outcome: 'error' });
          this.logger.warn(
            `ticker seed of ${symbol} failed: ${err instanceof Error ? err.message : String(err)}`,
          );
          throw err;
        }
      })().finally(() => {
        if (this.seeding.get(symbol) === pending) this.seeding.delete(symbol);
      });
      this.seeding.set(symbol, pending);
    }
    return pending;
  }

  /** Adds a persisted batch's trades of the symbol (in seq order) to its window. */
  record(symbol: string, trades: readonly TickerTrade[]): void {
    this.rolling.get(symbol)?.add(trades);
  }

  /** Partitions moved: another instance may have inserted trades meanwhile; reload on next use. */
  forget(): void {
    this.generation++;
    this.rolling.clear();
    this.seeding.clear();
  }

  /** Asks for a fresh ticker; resolves when it ran now, or at once when it was deferred. */
  async request(market: MarketSpec): Promise<void> {
    if (this.stopped) return;
    let state = this.symbols.get(market.symbol);
    if (!state) {
      state = { lastRunAt: 0, timer: null, chain: Promise.resolve(), market };
      this.symbols.set(market.symbol, state);
    }
    state.market = market;
    if (state.timer) return; // a trailing run is already due and will see this change
    const wait = state.lastRunAt + this.config.MARKET_DATA_TICKER_THROTTLE_MS - Date.now();
    if (wait > 0) {
      const s = state;
      s.timer = setTimeout(() => {
        s.timer = null;
        void this.run(s);
      }, wait);
      return;
    }
    await this.run(state);
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    for (const s of this.symbols.values()) if (s.timer) clearTimeout(s.timer);
    // Let runs in flight finish before the pool closes.
    await Promise.allSettled([...this.symbols.values()].map((s) => s.chain));
  }

  private run(state: SymbolState): Promise<void> {
    state.lastRunAt = Date.now();
    state.chain = state.chain
      .then(() => this.compute(state.market))
      .catch((err: unknown) => {
        this.logger.warn(
          `ticker ${state.market.symbol} failed: ${err instanceof Error ? err.message : String(err)}`,
        );
      });
    return state.chain;
  }

  private async compute(market: MarketSpec): Promise<void> {
    if (this.stopped) return;
    const now = Date.now();
    const stats = (await this.ensureSeeded(market.symbol)).stats(now);
    const best = await this.bestFor(market.symbol);
    const seq = await this.publisher.ticker(toTicker(market, stats, best, now));
    this.metrics.redisUpdates.inc({ channel: 'ticker', outcome: seq > 0 ? 'ok' : 'duplicate' });
  }

  private async bestFor(symbol: string): Promise<BestPrices> {
    const known = this.best.get(symbol);
    if (known) return known;
    // After a restart the book is in Redis until the next depth arrives.
    const stored = await this.publisher.readDepth(symbol);
    const best = stored ? bestPrices(stored.data) : { bestBid: null, bestAsk: null };
    this.best.set(symbol, best);
    return best;
  }
}
