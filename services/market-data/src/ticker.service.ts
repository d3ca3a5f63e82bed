import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { MarketSpec } from '@trading/contracts';
import { TradesRepository } from '@trading/db';
import { MARKET_DATA_CONFIG } from './market-data.tokens';
import type { MarketDataConfig } from './market-data.config';
import { MarketDataMetrics } from './market-data.metrics';
import { bestPrices, toTicker, type BestPrices } from './public-data.mapper';
import { RedisStreamPublisher } from './redis-stream.publisher';

const DAY_MS = 24 * 60 * 60 * 1000;

interface SymbolState {
  lastRunAt: number;
  timer: NodeJS.Timeout | null;
  /** Serialises runs so a slower, older computation never overwrites a newer ticker. */
  chain: Promise<void>;
  market: MarketSpec;
}

/**
 * The 24 h ticker, recomputed from the trades table (so it is right after a restart) at most
 * once per throttle window per symbol; a request inside the window schedules one trailing run,
 * so the last change is always published.
 */
@Injectable()
export class TickerService implements OnModuleDestroy {
  private readonly logger = new Logger(TickerService.name);
  private readonly symbols = new Map<string, SymbolState>();
  private readonly best = new Map<string, BestPrices>();
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
    const end = this.metrics.dbQueryDuration.startTimer({ query: 'ticker' });
    let stats;
    try {
      stats = await this.trades.ticker(market.symbol, new Date(now - DAY_MS));
      end({ outcome: 'ok' });
    } catch (err) {
      end({ outcome: 'error' });
      throw err;
    }
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
