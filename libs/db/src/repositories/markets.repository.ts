import type { DataSource } from 'typeorm';
import type { MarketRow } from '@trading/contracts';
import { AssetEntity } from '../entities/asset.entity';
import { MarketEntity } from '../entities/market.entity';
import { returnedRows } from './returned-rows';

export interface MarketSeed {
  symbol: string;
  baseAsset: string;
  quoteAsset: string;
  tickSize: string;
  lotSize: string;
  minQtyLots?: number;
  minNotional?: string;
  makerFeeBps?: number;
  takerFeeBps?: number;
}

/** The rules of a market an operator sets (decimal strings exact; bands null: no bound). */
export interface MarketRules {
  tickSize: string;
  lotSize: string;
  minQtyLots: number;
  minNotional: string;
  priceBandMin: string | null;
  priceBandMax: string | null;
  makerFeeBps: number;
  takerFeeBps: number;
  status: 'trading' | 'halted';
}

/** Every market with its assets' decimals, as the services' catalogs read it. */
const CATALOG_SQL = `SELECT m.symbol, m.base_asset, m.quote_asset, b.decimals AS base_decimals, q.decimals AS quote_decimals,
         m.tick_size::text, m.lot_size::text, m.min_qty_lots::text, m.min_notional::text,
         m.maker_fee_bps, m.taker_fee_bps, m.status,
         m.price_band_min::text AS price_band_min, m.price_band_max::text AS price_band_max
  FROM markets m JOIN assets b ON b.code = m.base_asset JOIN assets q ON q.code = m.quote_asset`;

/** Markets and assets; the only place that speaks SQL about them. */
export class MarketsRepository {
  constructor(private readonly db: DataSource) {}

  async upsertAsset(code: string, decimals: number): Promise<void> {
    await this.db.query(`INSERT INTO assets (code, decimals) VALUES ($1, $2) ON CONFLICT (code) DO NOTHING`, [
      code,
      decimals,
    ]);
  }

  async upsertMarket(m: MarketSeed): Promise<void> {
    await this.db.query(
      `INSERT INTO markets (symbol, base_asset, quote_asset, tick_size, lot_size, min_qty_lots, min_notional, maker_fee_bps, taker_fee_bps)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (symbol) DO UPDATE SET tick_size = EXCLUDED.tick_size, lot_size = EXCLUDED.lot_size,
         min_qty_lots = EXCLUDED.min_qty_lots, min_notional = EXCLUDED.min_notional,
         maker_fee_bps = EXCLUDED.maker_fee_bps, taker_fee_bps = EXCLUDED.taker_fee_bps, updated_at = now()`,
      [
        m.symbol,
        m.baseAsset,
        m.quoteAsset,
        m.tickSize,
        m.lotSize,
        m.minQtyLots ?? 1,
        m.minNotional ?? '0',
        m.makerFeeBps ?? 10,
        m.takerFeeBps ?? 20,
      ],
    );
  }

  /** Returns false when the market does not exist. */
  async setFees(symbol: string, makerFeeBps: number, takerFeeBps: number): Promise<boolean> {
    const result: unknown = await this.db.query(
      `UPDATE markets SET maker_fee_bps = $2, taker_fee_bps = $3, updated_at = now() WHERE symbol = $1 RETURNING symbol`,
      [symbol, makerFeeBps, takerFeeBps],
    );
    // An unknown symbol updates nothing: the operator API answers 404 (the fuzz test found 200).
    return returnedRows(result).length > 0;
  }

  /** The decimals of an asset, null when it is not listed. */
  async assetDecimals(code: string): Promise<number | null> {
    const rows = (await this.db.query(`SELECT decimals FROM assets WHERE code = $1`, [code])) as {
      decimals: number;
    }[];
    return rows.length ? Number(rows[0].decimals) : null;
  }

  /**
   * Lists a market (the operator API): false when the symbol exists already (nothing changes).
   * Assets given with decimals are listed first when missing, in the same transaction.
   */
  async createMarket(
    row: MarketRules & { symbol: string; baseAsset: string; quoteAsset: string },
    newAssets: [string, number][],
  ): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      for (const [code, decimals] of newAssets)
        await tx.query(`INSERT INTO assets (code, decimals) VALUES ($1, $2) ON CONFLICT (code) DO NOTHING`, [
          code,
          decimals,
        ]);
      const result: unknown = await tx.query(
        `INSERT INTO markets (symbol, base_asset, quote_asset, tick_size, lot_size, min_qty_lots, min_notional,
           price_band_min, price_band_max, maker_fee_bps, taker_fee_bps, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (symbol) DO NOTHING RETURNING symbol`,
        [
          row.symbol,
          row.baseAsset,
          row.quoteAsset,
          row.tickSize,
          row.lotSize,
          row.minQtyLots,
          row.minNotional,
          row.priceBandMin,
          row.priceBandMax,
          row.makerFeeBps,
          row.takerFeeBps,
          row.status,
        ],
      );
      return returnedRows(result).length > 0;
    });
  }

  /** Replaces a market's changeable rules; false when the market does not exist. */
  async updateRules(symbol: string, rules: MarketRules): Promise<boolean> {
    const result: unknown = await this.db.query(
      `UPDATE markets SET tick_size = $2, lot_size = $3, min_qty_lots = $4, min_notional = $5, price_band_min = $6,
         price_band_max = $7, maker_fee_bps = $8, taker_fee_bps = $9, status = $10, updated_at = now()
       WHERE symbol = $1 RETURNING symbol`,
      [
        symbol,
        rules.tickSize,
        rules.lotSize,
        rules.minQtyLots,
        rules.minNotional,
        rules.priceBandMin,
        rules.priceBandMax,
        rules.makerFeeBps,
        rules.takerFeeBps,
        rules.status,
      ],
    );
    return returnedRows(result).length > 0;
  }

  /** Whether any order of the market is not final (pending, resting, partially filled, untriggered). */
  async hasOpenOrders(symbol: string): Promise<boolean> {
    const rows = (await this.db.query(
      `SELECT 1 FROM orders WHERE symbol = $1 AND status IN ('pending', 'new', 'partially_filled') LIMIT 1`,
      [symbol],
    )) as unknown[];
    return rows.length > 0;
  }

  async findAll(): Promise<MarketEntity[]> {
    return this.db.getRepository(MarketEntity).find({ order: { symbol: 'ASC' } });
  }

  async findAssets(): Promise<AssetEntity[]> {
    return this.db.getRepository(AssetEntity).find({ order: { code: 'ASC' } });
  }

  /** Every market with its assets' decimals, as exact strings (NUMERIC never becomes a float). */
  async findRows(): Promise<MarketRow[]> {
    const rows = (await this.db.query(`${CATALOG_SQL} ORDER BY m.symbol`)) as Record<
      string,
      string | number | null
    >[];
    return rows.map((r) => ({
      symbol: String(r.symbol),
      baseAsset: String(r.base_asset),
      quoteAsset: String(r.quote_asset),
      baseDecimals: Number(r.base_decimals),
      quoteDecimals: Number(r.quote_decimals),
      tickSize: String(r.tick_size),
      lotSize: String(r.lot_size),
      minQtyLots: Number(r.min_qty_lots),
      minNotional: String(r.min_notional),
      makerFeeBps: Number(r.maker_fee_bps),
      takerFeeBps: Number(r.taker_fee_bps),
      status: r.status === 'halted' ? 'halted' : 'trading',
      priceBandMin: r.price_band_min === null ? null : String(r.price_band_min),
      priceBandMax: r.price_band_max === null ? null : String(r.price_band_max),
    }));
  }

  /**
   * A digest of everything findRows reads, computed by PostgreSQL and answered as one row: the
   * same digest, the same catalog. The services poll it and read the rows only when it changed.
   */
  async catalogDigest(): Promise<string> {
    const rows = (await this.db.query(
      `SELECT md5(coalesce(string_agg(c::text, '|' ORDER BY c.symbol), '')) AS digest FROM (${CATALOG_SQL}) c`,
    )) as { digest: string }[];
    return rows[0].digest;
  }
}
