import { type Order } from './order';

/**
 * Pending stop orders. Buy stops are kept by ascending stop price and sell stops by descending
 * stop price, arrival order within a price, so the triggered ones are always a prefix and come
 * out in trigger order. Stops are rare next to limit flow, so plain arrays are enough.
 */
export class StopBook {
  readonly buys: Order[] = [];
  readonly sells: Order[] = [];

  get size(): number {
    return this.buys.length + this.sells.length;
  }

  add(order: Order): void {
    const list = order.isBuy ? this.buys : this.sells;
    const stop = order.stopPrice;
    // After every stop with the same or an earlier-triggering price: arrival order breaks ties.
    let i = list.length;
    if (order.isBuy) while (i > 0 && list[i - 1].stopPrice > stop) i--;
    else while (i > 0 && list[i - 1].stopPrice < stop) i--;
    list.splice(i, 0, order);
  }

  remove(order: Order): void {
    const list = order.isBuy ? this.buys : this.sells;
    const i = list.indexOf(order);
    if (i >= 0) list.splice(i, 1);
  }

  /** Moves every stop triggered by `lastPrice` into `into`, buys before sells, in trigger order. */
  takeTriggered(lastPrice: number, into: Order[]): void {
    const buys = this.buys;
    let n = 0;
    while (n < buys.length && buys[n].stopPrice <= lastPrice) n++;
    if (n > 0) {
      for (let i = 0; i < n; i++) into.push(buys[i]);
      buys.splice(0, n);
    }
    const sells = this.sells;
    n = 0;
    while (n < sells.length && sells[n].stopPrice >= lastPrice) n++;
    if (n > 0) {
      for (let i = 0; i < n; i++) into.push(sells[i]);
      sells.splice(0, n);
    }
  }
}
