import type { MarketSpec } from '@trading/contracts';
import { MatchingEngine, type EngineSnapshot, type SymbolConfig } from '@trading/matching-engine';

/** Serialised state of every engine of one input partition. */
export interface PartitionState {
  v: 1;
  engines: EngineSnapshot[];
  /** Highest router (partition, offset) applied, per router partition. */
  sources: [number, number][];
}

/** Engine config from a market: the engine works in ticks and lots only. */
export function symbolConfig(spec: MarketSpec): SymbolConfig {
  return {
    symbol: spec.symbol,
    // Carried for callers, never used by the engine: smallest units per tick-lot and per lot.
    tickSize: Number(spec.quoteUnitsPerTickLot),
    lotSize: Number(spec.baseUnitsPerLot),
    minQty: spec.minQtyLots,
    minNotional: spec.minNotionalTickLots,
    ...(spec.priceBandMinTicks !== null || spec.priceBandMaxTicks !== null
      ? {
          priceBand: {
            ...(spec.priceBandMinTicks !== null ? { minPrice: spec.priceBandMinTicks } : {}),
            ...(spec.priceBandMaxTicks !== null ? { maxPrice: spec.priceBandMaxTicks } : {}),
          },
        }
      : {}),
  };
}

/**
 * The engines of the symbols that hash to one partition of `orders.sequenced.v1`. A partition is
 * the unit of ownership, snapshot and replay: a worker that gets it restores all its symbols at
 * once from one snapshot row.
 */
export class PartitionBook {
  readonly engines = new Map<string, MatchingEngine>();
  // Router commands are re-sent after a router crash; each carries where the router read it.
  readonly sources = new Map<number, number>();
  // The market each engine's config was last checked against, and that config (JSON).
  private readonly applied = new Map<string, { market: MarketSpec; key: string }>();
  /** Last input offset applied (-1: nothing yet). */
  lastOffset = -1;
  commandsSinceSnapshot = 0;
  lastSnapshotAt = Date.now();

  constructor(readonly partition: number) {}

  static restore(partition: number, state: PartitionState, inputOffset: number): PartitionBook {
    if (state.v !== 1) throw new Error(`unsupported partition snapshot version ${String(state.v)}`);
    const book = new PartitionBook(partition);
    for (const snap of state.engines) book.engines.set(snap.config.symbol, MatchingEngine.restore(snap));
    for (const [p, o] of state.sources ?? []) book.sources.set(p, o);
    book.lastOffset = inputOffset;
    return book;
  }

  /**
   * The engine of a symbol, built from its market on first use. When the market's rules change
   * in the catalog (an operator's PATCH /v1/operator/markets/:symbol: minimums, price band), the
   * engine is rebuilt from its own snapshot with the new config before the next command: the
   * book, stops, sequence and last price carry over, the new rules apply from that command on.
   */
  engineFor(symbol: string, spec: () => MarketSpec | undefined): MatchingEngine | undefined {
    let engine = this.engines.get(symbol);
    const market = spec();
    if (!engine) {
      if (!market) return undefined;
      engine = new MatchingEngine(symbolConfig(market));
      this.engines.set(symbol, engine);
      this.applied.set(symbol, { market, key: JSON.stringify(symbolConfig(market)) });
      return engine;
    }
    if (!market) return engine;
    const seen = this.applied.get(symbol);
    // The catalog hands out the same object until it reloads (every 2 s): compare configs only then.
    if (seen?.market === market) return engine;
    const config = symbolConfig(market);
    const key = JSON.stringify(config);
    if (key !== (seen?.key ?? JSON.stringify(engine.config))) {
      engine = MatchingEngine.restore({ ...engine.snapshot(), config });
      this.engines.set(symbol, engine);
    }
    this.applied.set(symbol, { market, key });
    return engine;
  }

  snapshot(): PartitionState {
    return { v: 1, engines: [...this.engines.values()].map((e) => e.snapshot()), sources: [...this.sources] };
  }

  /** Order-independent combination of every engine's state hash, for replica comparison. */
  /** True the first time a router (partition, offset) is seen; a re-send is a duplicate. */
  firstSeen(source: { partition: number; offset: number }): boolean {
    if ((this.sources.get(source.partition) ?? -1) >= source.offset) return false;
    this.sources.set(source.partition, source.offset);
    return true;
  }

  stateHash(): number {
    let h = 0;
    for (const [p, o] of [...this.sources].sort(([a], [b]) => a - b))
      h = (Math.imul(h ^ p, 0x01000193) + o) >>> 0;
    for (const [symbol, engine] of [...this.engines].sort(([a], [b]) => (a < b ? -1 : 1))) {
      h = (Math.imul(h ^ engine.stateHash(), 0x01000193) + symbol.length) >>> 0;
    }
    return h;
  }
}

/** Where to seek so a partition's book catches up silently before it goes live again. */
export interface Resume {
  seekTo: number;
  /** Offsets below this are replayed without output (it was committed already). */
  replayUntil: number;
}

/**
 * Decides, for a batch starting at `first`, whether the book (last applied offset `lastOffset`)
 * must first catch up. Offsets below `first` have committed output (after an assignment or a
 * rejoin the consumer starts at the committed offset), so a book behind it seeks back to its
 * next offset and replays up to `first` silently; a replay already under way keeps its own end
 * when that is further. If the partition was sought back to exactly that offset and the batch
 * still starts beyond it, the offsets in between do not exist (retention): go on (null).
 */
export function resumePosition(
  lastOffset: number,
  first: number,
  replayUntil: number | undefined,
  soughtTo: number | undefined,
): Resume | null {
  const next = lastOffset + 1;
  if (first <= next || soughtTo === next) return null;
  return { seekTo: next, replayUntil: Math.max(replayUntil ?? -1, first) };
}
