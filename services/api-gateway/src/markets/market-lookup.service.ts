import { Injectable } from '@nestjs/common';
import type { MarketSpec } from '@trading/contracts';
import { MarketCatalogService } from '@trading/nest-common';

// An unknown symbol triggers at most one catalog reload per interval, so a market created a
// moment ago is found without letting junk symbols hammer the database.
const MISS_RELOAD_INTERVAL_MS = 1000;

/** Markets by symbol from the catalog (reloaded every 2 s), with a bounded reload on a miss. */
@Injectable()
export class MarketLookupService {
  private lastMissReload = 0;
  private reloading: Promise<unknown> | null = null;

  constructor(private readonly catalog: MarketCatalogService) {}

  all(): MarketSpec[] {
    return this.catalog.all().sort((a, b) => a.symbol.localeCompare(b.symbol));
  }

  /** The market, or undefined when it does not exist (after at most one reload). */
  async find(symbol: string): Promise<MarketSpec | undefined> {
    const hit = this.catalog.get(symbol);
    if (hit || !/^[A-Z0-9]{2,12}-[A-Z0-9]{2,12}$/.test(symbol)) return hit;
    const now = Date.now();
    if (!this.reloading && now - this.lastMissReload >= MISS_RELOAD_INTERVAL_MS) {
      this.lastMissReload = now;
      // A failed reload answers from the catalog as it is (already logged by the timer).
      this.reloading = this.catalog
        .refresh()
        .catch(() => undefined)
        .finally(() => (this.reloading = null));
    }
    if (this.reloading) await this.reloading;
    return this.catalog.get(symbol);
  }

  /** Synchronous lookup for rendering rows already known to exist. */
  get(symbol: string): MarketSpec | undefined {
    return this.catalog.get(symbol);
  }
}
