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

  engineFor(symbol: string, spec: () => MarketSpec | undefined): MatchingEngine | undefined {
    let engine = this.engines.get(symbol);
    if (!engine) {
      const market = spec();
      if (!market) return undefined;
      engine = new MatchingEngine(symbolConfig(market));
      this.engines.set(symbol, engine);
    }
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
