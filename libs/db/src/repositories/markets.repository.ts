import type { DataSource } from 'typeorm';
import { AssetEntity } from '../entities/asset.entity';
import { MarketEntity } from '../entities/market.entity';

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

  async findAll(): Promise<MarketEntity[]> {
    return this.db.getRepository(MarketEntity).find({ order: { symbol: 'ASC' } });
  }

  async findAssets(): Promise<AssetEntity[]> {
    return this.db.getRepository(AssetEntity).find({ order: { code: 'ASC' } });
  }
}
