import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { toMarketSpec, type MarketSpec } from '@trading/contracts';
import { MarketsRepository } from '@trading/db';
import { DatabaseService } from './infra.providers';

const RELOAD_MS = 2000;

/**
 * The markets every service checks against, reloaded every 2 s so a market added while the
 * platform runs starts trading without a restart. A market whose steps cannot be expressed in
 * integers of its assets is skipped and logged, never half-used.
 */
@Injectable()
export class MarketCatalogService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(MarketCatalogService.name);
  private markets = new Map<string, MarketSpec>();
  private timer: NodeJS.Timeout | null = null;
  private loadedOnce = false;

  constructor(private readonly db: DatabaseService) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.reload(), RELOAD_MS);
    this.timer.unref();
    void this.reload();
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

  /** Reloads now; returns the market when it exists after the reload (for an unknown symbol). */
  async refresh(symbol?: string): Promise<MarketSpec | undefined> {
    await this.reload();
    return symbol ? this.markets.get(symbol) : undefined;
  }

  private async reload(): Promise<void> {
    if (!this.db.dataSource.isInitialized) return;
    try {
      const rows = await new MarketsRepository(this.db.dataSource).findRows();
      const next = new Map<string, MarketSpec>();
      for (const row of rows) {
        try {
          next.set(row.symbol, toMarketSpec(row));
        } catch (err) {
          this.logger.error(`market ${row.symbol} skipped: ${(err as Error).message}`);
        }
      }
      this.markets = next;
      this.loadedOnce = true;
    } catch (err) {
      this.logger.warn(`market reload failed: ${(err as Error).message}`);
    }
  }
}
