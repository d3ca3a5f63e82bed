// Reference model the benchmark generator uses to know which orders rest (so every cancel and
// amend hits a live order) and how many lots each operation trades. Prices live in a small
// window around the mid, so levels are a plain array of FIFO queues with lazy deletion.

class Entry {
  constructor(
    readonly id: string,
    readonly buy: boolean,
    public price: number,
    public qty: number,
    public slot: number,
  ) {}
}

class Queue {
  items: Entry[] = [];
  head = 0;
}

export class BenchBook {
  private readonly base: number;
  private readonly levels: Queue[] = [];
  private readonly live = new Map<string, Entry>();
  // Dense list of live entries for uniform picks (swap-remove).
  private readonly list: Entry[] = [];

  constructor(
    private readonly mid: number,
    private readonly halfWidth: number,
  ) {
    this.base = mid - halfWidth;
    for (let i = 0; i <= 2 * halfWidth; i++) this.levels.push(new Queue());
  }

  restingCount(): number {
    return this.list.length;
  }

  pick(r: number): string {
    return this.list[Math.floor(r * this.list.length)].id;
  }

  isBuy(id: string): boolean {
    return (this.live.get(id) as Entry).buy;
  }

  priceOf(id: string): number {
    return (this.live.get(id) as Entry).price;
  }

  add(id: string, buy: boolean, price: number, qty: number): void {
    if (qty <= 0) return;
    const e = new Entry(id, buy, price, qty, this.list.length);
    this.list.push(e);
    this.live.set(id, e);
    this.levels[price - this.base].items.push(e);
  }

  cancel(id: string): void {
    const e = this.live.get(id) as Entry;
    this.unlist(e);
  }

  // Re-price: leave the queue, take if crossing, rest the remainder at the back.
  move(id: string, price: number): number {
    const e = this.live.get(id) as Entry;
    this.unlist(e);
    const traded = this.take(e.buy, price, e.qty);
    this.add(id, e.buy, price, e.qty - traded);
    return traded;
  }

  // Lots a taker trades; limit 0 means a market order.
  take(buy: boolean, limit: number, qty: number): number {
    let left = qty;
    // Bids rest below the mid and asks above it: a buy walks up from mid + 1, a sell down from
    // mid - 1.
    for (let k = 1; k <= this.halfWidth && left > 0; k++) {
      const price = buy ? this.mid + k : this.mid - k;
      const idx = price - this.base;
      if (limit !== 0 && (buy ? price > limit : price < limit)) break;
      const q = this.levels[idx];
      while (q.head < q.items.length && left > 0) {
        const e = q.items[q.head];
        if (e.slot < 0 || e.buy === buy || e.price !== price) {
          q.head++;
          continue;
        }
        const f = Math.min(left, e.qty);
        e.qty -= f;
        left -= f;
        if (e.qty === 0) {
          this.unlist(e);
          q.head++;
        }
      }
      if (q.head > 1024 && q.head * 2 > q.items.length) {
        q.items = q.items.slice(q.head);
        q.head = 0;
      }
    }
    return qty - left;
  }

  private unlist(e: Entry): void {
    const last = this.list.pop() as Entry;
    if (last !== e) {
      this.list[e.slot] = last;
      last.slot = e.slot;
    }
    e.slot = -1;
    this.live.delete(e.id);
  }
}
