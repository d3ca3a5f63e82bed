import fc from 'fast-check';
import { RollingTicker, type MinuteBucket, type TickerTrade } from './rolling-ticker';

const MINUTE = 60_000;
const WINDOW = 60 * MINUTE;

/** The ticker as the old SQL computed it, over whole minutes: the model. */
function naive(trades: TickerTrade[], now: number) {
  const from = now - WINDOW - ((now - WINDOW) % MINUTE);
  const inWindow = trades.filter((t) => t.time >= from).sort((a, b) => a.seq - b.seq);
  const all = [...trades].sort((a, b) => a.seq - b.seq);
  const sum = (f: (t: TickerTrade) => bigint) => inWindow.reduce((s, t) => s + f(t), 0n).toString();
  return {
    open: inWindow[0] ? String(inWindow[0].price) : null,
    high: inWindow.length ? String(Math.max(...inWindow.map((t) => t.price))) : null,
    low: inWindow.length ? String(Math.min(...inWindow.map((t) => t.price))) : null,
    last: all.length ? String(all[all.length - 1].price) : null,
    volume: sum((t) => BigInt(t.qty)),
    quoteVolume: sum((t) => BigInt(t.price) * BigInt(t.qty)),
    trades: inWindow.length,
  };
}

/** What TradesRepository.tickerSeed returns for these trades. */
function seedOf(trades: TickerTrade[]): {
  buckets: MinuteBucket[];
  last: { seq: number; price: bigint } | null;
} {
  const byMinute = new Map<number, TickerTrade[]>();
  for (const t of trades) {
    const m = t.time - (t.time % MINUTE);
    byMinute.set(m, [...(byMinute.get(m) ?? []), t]);
  }
  const buckets = [...byMinute].map(([minute, ts]) => {
    const s = [...ts].sort((a, b) => a.seq - b.seq);
    return {
      minute,
      openSeq: s[0].seq,
      open: BigInt(s[0].price),
      closeSeq: s[s.length - 1].seq,
      close: BigInt(s[s.length - 1].price),
      high: BigInt(Math.max(...s.map((t) => t.price))),
      low: BigInt(Math.min(...s.map((t) => t.price))),
      volume: s.reduce((a, t) => a + BigInt(t.qty), 0n),
      quoteVolume: s.reduce((a, t) => a + BigInt(t.price) * BigInt(t.qty), 0n),
      trades: s.length,
    };
  });
  const last = [...trades].sort((a, b) => b.seq - a.seq)[0];
  return { buckets, last: last ? { seq: last.seq, price: BigInt(last.price) } : null };
}

// Trades in seq order, time non-decreasing with seq (the engine's order), over ~3 windows.
const tradesArb = fc
  .array(
    fc.record({
      gap: fc.integer({ min: 0, max: 10 * MINUTE }),
      price: fc.integer({ min: 1, max: 1_000_000 }),
      qty: fc.integer({ min: 1, max: 1_000_000_000 }),
    }),
    { maxLength: 80 },
  )
  .map((xs) => {
    let time = 1_790_000_000_000;
    return xs.map((x, i): TickerTrade => {
      time += x.gap;
      return { seq: i + 1, price: x.price, qty: x.qty, time };
    });
  });

describe('RollingTicker', () => {
  it('equals the window statistics of all trades, however they are split between seed and updates, with redeliveries', () => {
    fc.assert(
      fc.property(
        tradesArb,
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 0, max: 3 * WINDOW }),
        (trades, cut, back, after) => {
          const k = trades.length === 0 ? 0 : cut % (trades.length + 1);
          const seed = seedOf(trades.slice(0, k));
          const ticker = new RollingTicker(seed.buckets, seed.last, WINDOW);
          // Updates may start before the seed's end (a redelivered batch) and repeat themselves.
          const from = Math.max(0, k - (back % 5));
          ticker.add(trades.slice(from));
          ticker.add(trades.slice(from, from + (back % 3)));
          const now = (trades[trades.length - 1]?.time ?? 1_790_000_000_000) + after;
          expect(ticker.stats(now)).toEqual(naive(trades, now));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('keeps the last price when the window is empty, and reports no open/high/low', () => {
    const t = new RollingTicker([], null, WINDOW);
    expect(t.stats(0)).toEqual({
      open: null,
      high: null,
      low: null,
      last: null,
      volume: '0',
      quoteVolume: '0',
      trades: 0,
    });
    t.add([{ seq: 7, price: 101, qty: 2, time: 10 * MINUTE }]);
    expect(t.stats(10 * MINUTE + 2 * WINDOW)).toMatchObject({ open: null, last: '101', trades: 0 });
  });
});
