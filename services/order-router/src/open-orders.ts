import { isFinal, type RiskEngine, type RiskOrder } from '@trading/risk-engine';

/**
 * Which orders a router partition's risk engine keeps between batches: its open orders as the
 * router last committed them, so a batch's cancels, amends and execution updates find their orders
 * in memory instead of reading them from PostgreSQL (one query per batch before). The router is
 * the only writer of `orders`, and a partition's batches run one at a time on the member that owns
 * it, so what the engine holds is what the database holds once the batch in hand commits. Like the
 * balances, the engine (and this with it) is dropped when a batch fails or the partition changes
 * hands; anything not held (evicted, or from before this owner) is read from the database. Final
 * orders are not kept; beyond `max` open ones, the oldest are evicted.
 */
export class OpenOrders {
  /** Ids of the open orders kept in the engine, oldest first. */
  private readonly kept = new Set<string>();
  /** Ids the batch in hand looked up, settled by `committed`. */
  private readonly touched = new Set<string>();

  constructor(
    private readonly engine: RiskEngine,
    private readonly max: number,
  ) {}

  get size(): number {
    return this.kept.size;
  }

  /** Gives the engine those of `ids` it does not hold, read through `read` (ids it lacks stay unknown). */
  async load(
    ids: Iterable<string>,
    read: (missing: string[]) => Promise<Map<string, RiskOrder>>,
  ): Promise<{ hits: number; loaded: number }> {
    const missing: string[] = [];
    let hits = 0;
    for (const id of new Set(ids)) {
      this.touched.add(id);
      if (this.engine.order(id)) hits++;
      else missing.push(id);
    }
    if (missing.length > 0) this.engine.loadOrders((await read(missing)).values());
    return { hits, loaded: missing.length };
  }

  /**
   * After a commit: the orders the batch looked up, placed (`ids`) or changed, as the engine now
   * holds them, are kept if open and evicted if final; then the oldest beyond the bound go.
   */
  committed(ids: Iterable<string> = []): void {
    for (const id of ids) this.touched.add(id);
    for (const id of this.touched) {
      const o = this.engine.order(id);
      if (o && !isFinal(o.status)) this.kept.add(id);
      else this.drop(id);
    }
    this.touched.clear();
    for (const id of this.kept) {
      if (this.kept.size <= this.max) break;
      this.drop(id);
    }
  }

  private drop(id: string): void {
    this.kept.delete(id);
    this.engine.evict([id]);
  }
}
