import { parseDecimal, scaleOf } from './decimal';

/** A market's static rules as stored (decimal strings exact, as the database returns them). */
export interface MarketRow {
  symbol: string;
  baseAsset: string;
  quoteAsset: string;
  baseDecimals: number;
  quoteDecimals: number;
  tickSize: string;
  lotSize: string;
  minQtyLots: number;
  minNotional: string;
  makerFeeBps: number;
  takerFeeBps: number;
  status: 'trading' | 'halted';
  /** Lowest / highest limit price the engine accepts (decimal on the tick grid); null: no bound. */
  priceBandMin?: string | null;
  priceBandMax?: string | null;
}

/** Integer form of a market: what every service past the edge works with. */
export interface MarketSpec extends MarketRow {
  /** Smallest quote units per (1 tick x 1 lot): notional in ticks*lots times this is quote units. */
  quoteUnitsPerTickLot: bigint;
  /** Smallest base units per lot. */
  baseUnitsPerLot: bigint;
  /** Minimum notional in ticks x lots (0 = none). */
  minNotionalTickLots: number;
  /** The price band in ticks (null: no bound), as the matching engine applies it. */
  priceBandMinTicks: number | null;
  priceBandMaxTicks: number | null;
}

/** A price bound in whole ticks; throws when it is not on the tick grid. */
function bandTicks(
  row: MarketRow,
  tick: string,
  bound: string | null | undefined,
  name: string,
): number | null {
  if (bound === null || bound === undefined) return null;
  const b = stripZeros(bound);
  const scale = Math.max(scaleOf(b), scaleOf(tick));
  const units = parseDecimal(b, scale);
  const tickUnits = parseDecimal(tick, scale)!;
  if (units === null || units <= 0n || units % tickUnits !== 0n)
    throw new Error(`${row.symbol}: ${name} ${bound} is not a positive multiple of the tick ${tick}`);
  const ticks = units / tickUnits;
  if (ticks > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${row.symbol}: ${name} is too large`);
  return Number(ticks);
}

function stripZeros(d: string): string {
  return d.includes('.') ? d.replace(/0+$/, '').replace(/\.$/, '') : d;
}

/**
 * Checks that the market's steps are representable in integers of both assets' smallest units
 * and derives the integer conversion factors. Throws with the reason when they are not.
 */
export function toMarketSpec(row: MarketRow): MarketSpec {
  const tick = stripZeros(row.tickSize);
  const lot = stripZeros(row.lotSize);
  const minNotional = stripZeros(row.minNotional);
  const tl = parseDecimal(tick, scaleOf(tick))! * parseDecimal(lot, scaleOf(lot))!; // 10^-(ts+ls)
  const tlScale = scaleOf(tick) + scaleOf(lot);
  const qScale = BigInt(row.quoteDecimals);
  const num = tl * 10n ** qScale;
  const den = 10n ** BigInt(tlScale);
  if (num % den !== 0n)
    throw new Error(`${row.symbol}: tick x lot is finer than ${row.quoteAsset}'s smallest unit`);
  const lotUnits = parseDecimal(lot, row.baseDecimals);
  if (lotUnits === null || lotUnits === 0n)
    throw new Error(`${row.symbol}: lot size is finer than ${row.baseAsset}'s smallest unit`);
  // min notional (quote) / (tick x lot), rounded up to whole tick-lots
  const mnScale = Math.max(scaleOf(minNotional), tlScale);
  const mn = parseDecimal(minNotional, mnScale)!;
  const tlAtScale = tl * 10n ** BigInt(mnScale - tlScale);
  const minTl = mn === 0n ? 0n : (mn + tlAtScale - 1n) / tlAtScale;
  return {
    ...row,
    tickSize: tick,
    lotSize: lot,
    minNotional,
    quoteUnitsPerTickLot: num / den,
    baseUnitsPerLot: lotUnits,
    minNotionalTickLots: Number(minTl),
    priceBandMin: row.priceBandMin == null ? null : stripZeros(row.priceBandMin),
    priceBandMax: row.priceBandMax == null ? null : stripZeros(row.priceBandMax),
    priceBandMinTicks: bandTicks(row, tick, row.priceBandMin, 'priceBandMin'),
    priceBandMaxTicks: bandTicks(row, tick, row.priceBandMax, 'priceBandMax'),
  };
}

/**
 * The market of the examples and specs: BTC-USDT, ticks 0.01, lots 0.0001, minimum notional 1,
 * fees 10/20 bps; `over` changes any rule (one fixture instead of a copy per spec).
 */
export function sampleMarketSpec(over: Partial<MarketRow> = {}): MarketSpec {
  return toMarketSpec(sampleMarketRow(over));
}

/** The same market as its stored row, before the integer conversion factors are derived. */
export function sampleMarketRow(over: Partial<MarketRow> = {}): MarketRow {
  return {
    symbol: 'BTC-USDT',
    baseAsset: 'BTC',
    quoteAsset: 'USDT',
    baseDecimals: 8,
    quoteDecimals: 6,
    tickSize: '0.01',
    lotSize: '0.0001',
    minQtyLots: 1,
    minNotional: '1',
    makerFeeBps: 10,
    takerFeeBps: 20,
    status: 'trading',
    ...over,
  };
}
