import { type OrderStore } from './order-store';

/**
 * Pending stop orders (handles). Buy stops are kept by ascending stop price and sell stops by
 * descending stop price, arrival order within a price, so the triggered ones are always a prefix
 * and come out in trigger order. Stops are rare next to limit flow, so plain arrays are enough.
 */
export class StopBook {
  readonly buys: number[] = [];
  readonly sells: number[] = [];
  private readonly store: OrderStore;

  constructor(store: OrderStore) {
    this.store = store;
  }

  get size(): number {
    return this.buys.length + this.sells.length;
  }

  add(h: number): void {
    const s = this.store;
    const isBuy = s.isBuy(h) === 1;
    const list = isBuy ? this.buys : this.sells;
    const stop = s.stopPx(h);
    // After every stop with the same or an earlier-triggering price: arrival order breaks ties.
    let i = list.length;
    if (isBuy) while (i > 0 && s.stopPx(list[i - 1]) > stop) i--;
    else while (i > 0 && s.stopPx(list[i - 1]) < stop) i--;
    list.splice(i, 0, h);
  }

  remove(h: number): void {
    const list = this.store.isBuy(h) === 1 ? this.buys : this.sells;
    const i = list.indexOf(h);
    if (i >= 0) list.splice(i, 1);
  }

  /** Moves every stop triggered by `lastPrice` into `into`, buys before sells, in trigger order. */
  takeTriggered(lastPrice: number, into: number[]): void {
    const st = this.store;
    const buys = this.buys;
    let n = 0;
    while (n < buys.length && st.stopPx(buys[n]) <= lastPrice) n++;
    if (n > 0) {
      for (let i = 0; i < n; i++) into.push(buys[i]);
      buys.splice(0, n);
    }
    const sells = this.sells;
    n = 0;
    while (n < sells.length && st.stopPx(sells[n]) >= lastPrice) n++;
    if (n > 0) {
      for (let i = 0; i < n; i++) into.push(sells[i]);
      sells.splice(0, n);
    }
  }
}
