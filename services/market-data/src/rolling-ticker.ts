import type { MinuteBucket, TickerStats } from '@trading/db';

export type { MinuteBucket } from '@trading/db';

const MINUTE_MS = 60_000;

export interface TickerTrade {
  seq: number;
  /** Ticks. */
  price: number;
  /** Lots. */
  qty: number;
  /** Epoch ms. */
  time: number;
}

/**
 * The 24 h ticker of one symbol from per-minute buckets: seeded once from the trades table (so it
 * is right after a restart or a rebalance), then kept current by the trades this instance
 * consumes (redeliveries skipped by seq). Computing it is O(minutes in the window), with no query per trade; the window starts
 * at the minute boundary 24 h ago (a bucket is in or out as a whole).
 */
export class RollingTicker {
  private readonly buckets = new Map<number, MinuteBucket>();
  private lastSeq = 0;
  private last: bigint | null = null;

  constructor(
    seed: readonly MinuteBucket[],
    lastTrade: { seq: number; price: bigint } | null,
    private readonly windowMs = 24 * 60 * MINUTE_MS,
  ) {
    for (const b of seed) this.buckets.set(b.minute, { ...b });
    if (lastTrade) {
      this.lastSeq = lastTrade.seq;
      this.last = lastTrade.price;
    }
  }

  /**
   * Adds trades in the engine's order. A symbol's trades have increasing seqs, so one at or below
   * the last seq seen (in the seed or here) is a redelivery and is skipped.
   */
  add(trades: readonly TickerTrade[]): void {
    for (const t of trades) {
      if (t.seq <= this.lastSeq) continue;
      const price = BigInt(t.price);
      const qty = BigInt(t.qty);
      const minute = t.time - (t.time % MINUTE_MS);
      const b = this.buckets.get(minute);
      if (!b) {
        this.buckets.set(minute, {
          minute,
          openSeq: t.seq,
          open: price,
          closeSeq: t.seq,
          close: price,
          high: price,
          low: price,
          volume: qty,
          quoteVolume: price * qty,
          trades: 1,
        });
      } else {
        if (t.seq < b.openSeq) {
          b.openSeq = t.seq;
          b.open = price;
        }
        if (t.seq > b.closeSeq) {
          b.closeSeq = t.seq;
          b.close = price;
        }
        if (price > b.high) b.high = price;
        if (price < b.low) b.low = price;
        b.volume += qty;
        b.quoteVolume += price * qty;
        b.trades += 1;
      }
      this.lastSeq = t.seq;
      this.last = price;
    }
  }

  /** The statistics of the window ending at `now`; buckets that left it are dropped. */
  stats(now: number): TickerStats {
    const from = now - this.windowMs - ((now - this.windowMs) % MINUTE_MS);
    let open: MinuteBucket | null = null;
    let high: bigint | null = null;
    let low: bigint | null = null;
    let volume = 0n;
    let quoteVolume = 0n;
    let trades = 0;
    for (const [minute, b] of this.buckets) {
      if (minute < from) {
        this.buckets.delete(minute);
        continue;
      }
      if (!open || b.openSeq < open.openSeq) open = b;
      if (high === null || b.high > high) high = b.high;
      if (low === null || b.low < low) low = b.low;
      volume += b.volume;
      quoteVolume += b.quoteVolume;
      trades += b.trades;
    }
    return {
      open: open ? open.open.toString() : null,
      high: high === null ? null : high.toString(),
      low: low === null ? null : low.toString(),
      last: this.last === null ? null : this.last.toString(),
      volume: volume.toString(),
      quoteVolume: quoteVolume.toString(),
      trades,
    };
  }
}
