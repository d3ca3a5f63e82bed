import { sampleMarketSpec, type MarketSpec } from '@trading/contracts';
import type { EngineEvent } from '@trading/matching-engine';
import { PartitionBook, resumePosition, symbolConfig } from './partition-book';

// The worker's position rule (matching-worker.service.ts onBatch): a batch may only be applied
// live when it starts at or below the book's next offset; otherwise the book catches up silently
// first. The rejoin case is the chaos-run defect of session 3: a Kafka restart made the consumer
// rejoin while a partition was replaying after a failed commit; the position went back to the
// committed offset, the book kept its mid-replay state, and the commands in between were never
// applied (the engine's state and seq diverged from the input).

describe('resumePosition', () => {
  it('goes on live when the batch starts at or below the next offset', () => {
    expect(resumePosition(99, 100, undefined, undefined)).toBeNull();
    // A stale committed offset (a transaction still being completed): the overlap is skipped.
    expect(resumePosition(199, 150, undefined, undefined)).toBeNull();
  });

  it('replays silently from a restored snapshot up to the committed offset', () => {
    expect(resumePosition(49, 100, undefined, undefined)).toEqual({ seekTo: 50, replayUntil: 100 });
  });

  it('catches up again after a rejoin in the middle of a replay, keeping the further end', () => {
    // Restored at 49, replaying to 100, applied up to 79; the rejoin restarts at the committed 100.
    expect(resumePosition(79, 100, 100, 50)).toEqual({ seekTo: 80, replayUntil: 100 });
    // A replay that was to end further than where the rejoin restarts keeps its end.
    expect(resumePosition(79, 90, 100, 50)).toEqual({ seekTo: 80, replayUntil: 100 });
  });

  it('accepts a real gap once it was sought back to and the batch still starts beyond it', () => {
    expect(resumePosition(79, 120, 100, 80)).toBeNull();
  });
});

describe('PartitionBook.engineFor: a market whose rules change in the catalog', () => {
  const order = (orderId: string, side: 'buy' | 'sell', price: number) => ({
    type: 'new' as const,
    orderId,
    accountId: 'a',
    side,
    orderType: 'limit' as const,
    qty: 100,
    price,
  });

  it('passes the price band to the engine in ticks', () => {
    const spec = sampleMarketSpec({ priceBandMin: '90', priceBandMax: '110.5' });
    expect(symbolConfig(spec).priceBand).toEqual({ minPrice: 9000, maxPrice: 11050 });
    expect(symbolConfig(sampleMarketSpec()).priceBand).toBeUndefined();
  });

  it('rebuilds the engine with the new band, keeping its book and sequence', () => {
    const book = new PartitionBook(0);
    let market: MarketSpec = sampleMarketSpec();
    const out: EngineEvent[] = [];
    book.engineFor('BTC-USDT', () => market)!.process(order('o1', 'sell', 10_000), out);
    const seq = book.engineFor('BTC-USDT', () => market)!.seq;
    // The same catalog object: the same engine.
    const first = book.engineFor('BTC-USDT', () => market);
    expect(book.engineFor('BTC-USDT', () => market)).toBe(first);
    // A reload with equal rules: the same engine.
    market = sampleMarketSpec();
    expect(book.engineFor('BTC-USDT', () => market)).toBe(first);
    market = sampleMarketSpec({ priceBandMax: '120' });
    const engine = book.engineFor('BTC-USDT', () => market)!;
    expect(engine).not.toBe(first);
    expect(engine.seq).toBe(seq);
    expect(engine.depth(5).asks).toEqual(first!.depth(5).asks);
    out.length = 0;
    engine.process(order('o2', 'sell', 12_001), out);
    expect(out).toEqual([expect.objectContaining({ type: 'rejected', reason: 'PRICE_OUT_OF_BAND' })]);
    out.length = 0;
    engine.process(order('o3', 'buy', 10_000), out);
    expect(out.some((e) => e.type === 'trade')).toBe(true);
  });
});
