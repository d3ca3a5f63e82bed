import { type OrderStore } from './order-store';
import { PriceLevel } from './price-level';

const LEVEL_POOL_MAX = 1024;

/**
 * One side of the book: active levels in an array sorted worst -> best (best is the last
 * element, so consuming the touch is a pop) plus a price -> level map for O(1) lookup.
 * New levels are placed by binary search; near-touch inserts only move a few slots.
 * `table` is shared by both sides: level slot -> level, so an order's level is one array load.
 */
export class BookSide {
  readonly isBid: boolean;
  readonly levels: PriceLevel[] = [];
  readonly byPrice = new Map<number, PriceLevel>();
  orderCount = 0;
  private readonly store: OrderStore;
  private readonly table: PriceLevel[];
  // Emptied levels are recycled (with their slot) to keep level churn off the garbage collector.
  private readonly pool: PriceLevel[] = [];

  constructor(isBid: boolean, store: OrderStore, table: PriceLevel[]) {
    this.isBid = isBid;
    this.store = store;
    this.table = table;
  }

  best(): PriceLevel | null {
    const n = this.levels.length;
    return n === 0 ? null : this.levels[n - 1];
  }

  append(h: number): void {
    const price = this.store.price(h);
    let level = this.byPrice.get(price);
    if (level === undefined) level = this.addLevel(price);
    level.append(this.store, h);
    this.orderCount++;
  }

  remove(h: number): void {
    const level = this.table[this.store.level(h)];
    level.remove(this.store, h);
    this.orderCount--;
    if (level.count === 0) this.removeLevel(level);
  }

  removeLevel(level: PriceLevel): void {
    const levels = this.levels;
    const last = levels.length - 1;
    // The touch is the common case: pop without searching.
    if (levels[last] === level) levels.pop();
    else levels.splice(this.insertionIndex(level.price), 1);
    this.byPrice.delete(level.price);
    if (this.pool.length < LEVEL_POOL_MAX) this.pool.push(level);
  }

  private addLevel(price: number): PriceLevel {
    let level: PriceLevel;
    if (this.pool.length > 0) {
      level = this.pool.pop() as PriceLevel;
      level.reset(price);
    } else {
      level = new PriceLevel(this.table.length, price);
      this.table.push(level);
    }
    const levels = this.levels;
    const n = levels.length;
    if (n === 0 || this.isBetter(price, levels[n - 1].price)) {
      levels.push(level);
    } else {
      levels.splice(this.insertionIndex(price), 0, level);
    }
    this.byPrice.set(price, level);
    return level;
  }

  // True when price a is closer to the touch than price b on this side.
  private isBetter(a: number, b: number): boolean {
    return this.isBid ? a > b : a < b;
  }

  // First index whose level is not worse than price (levels are worst -> best): the slot for a
  // new level, or the index of an existing one.
  private insertionIndex(price: number): number {
    const levels = this.levels;
    let lo = 0;
    let hi = levels.length;
    if (this.isBid) {
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (levels[mid].price < price) lo = mid + 1;
        else hi = mid;
      }
    } else {
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (levels[mid].price > price) lo = mid + 1;
        else hi = mid;
      }
    }
    return lo;
  }
}
