import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { toMarketSpec, type MarketSpec } from '@trading/contracts';
import { MarketsRepository } from '@trading/db';
import { DatabaseService } from './infra.providers';

const RELOAD_MS = 2000;

/**
 * The markets every service checks against, checked every 2 s so a market added or changed while
 * the platform runs is used without a restart: each check reads one digest of the catalog, and the
 * rows only when it changed (hundreds of markets read and converted every 2 s in every process
 * were most of an idle service's CPU). A market whose steps cannot be expressed in integers of its
 * assets is skipped and logged, never half-used.
 */
@Injectable()
export class MarketCatalogService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(MarketCatalogService.name);
  private markets = new Map<string, MarketSpec>();
  private timer: NodeJS.Timeout | null = null;
  private loadedOnce = false;
  /** The digest of the catalog last read (MarketsRepository.catalogDigest). */
  private digest: string | null = null;

  constructor(private readonly db: DatabaseService) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.reload(), RELOAD_MS);
    this.timer.unref();
    // The database connects in the background: the first timer tick loads the catalog.
    if (this.db.dataSource.isInitialized) void this.reload();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }

  get isLoaded(): boolean {
    return this.loadedOnce;
  }

  get(symbol: string): MarketSpec | undefined {
    return this.markets.get(symbol);
  }

  all(): MarketSpec[] {
    return [...this.markets.values()];
  }

  /**
   * Reloads now and returns the market when it exists after the reload (for an unknown symbol).
   * Throws when the catalog cannot be read: "unknown" is only ever an answer from a fresh read,
   * never from a catalog that failed to load (a consumer retries its batch instead of
   * rejecting, dropping or skipping the settlement of what it could not look up).
   */
  async refresh(symbol?: string): Promise<MarketSpec | undefined> {
    await this.load();
    return symbol ? this.markets.get(symbol) : undefined;
  }

  /** Loads the catalog if it never was; throws when it cannot be read. */
  async ensureLoaded(): Promise<void> {
    if (!this.loadedOnce) await this.load();
  }

  /**
   * The market for a symbol that must exist (an order already accepted for it): reloads once on
   * a miss, then throws, so the caller's batch is retried instead of acting without the market.
   */
  async require(symbol: string): Promise<MarketSpec> {
    const market = this.markets.get(symbol) ?? (await this.refresh(symbol));
    if (!market) throw new Error(`market ${symbol} is not in the catalog`);
    return market;
  }

  private async reload(): Promise<void> {
    try {
      await this.load();
    } catch (err) {
      this.logger.warn(`market reload failed: ${(err as Error).message}`);
    }
  }

  private async load(): Promise<void> {
    if (!this.db.dataSource.isInitialized) throw new Error('market catalog: database not connected yet');
    const repository = new MarketsRepository(this.db.dataSource);
    // Read before the rows: a change between the two reads shows as a new digest next time.
    const digest = await repository.catalogDigest();
    if (this.loadedOnce && digest === this.digest) return;
    const rows = await repository.findRows();
    const next = new Map<string, MarketSpec>();
    for (const row of rows) {
      try {
        next.set(row.symbol, toMarketSpec(row));
      } catch (err) {
        this.logger.error(`market ${row.symbol} skipped: ${(err as Error).message}`);
      }
    }
    this.markets = next;
    this.digest = digest;
    this.loadedOnce = true;
  }
}
