import { Column, Entity, PrimaryColumn } from 'typeorm';

// NUMERIC columns come back as strings from pg: exact, never floats.
@Entity({ name: 'markets' })
export class MarketEntity {
  @PrimaryColumn({ type: 'text' })
  symbol!: string;

  @Column({ type: 'text', name: 'base_asset' })
  baseAsset!: string;

  @Column({ type: 'text', name: 'quote_asset' })
  quoteAsset!: string;

  @Column({ type: 'numeric', name: 'tick_size' })
  tickSize!: string;

  @Column({ type: 'numeric', name: 'lot_size' })
  lotSize!: string;

  @Column({ type: 'bigint', name: 'min_qty_lots' })
  minQtyLots!: string;

  @Column({ type: 'numeric', name: 'min_notional' })
  minNotional!: string;

  @Column({ type: 'integer', name: 'price_band_pct' })
  priceBandPct!: number;

  @Column({ type: 'integer', name: 'maker_fee_bps' })
  makerFeeBps!: number;

  @Column({ type: 'integer', name: 'taker_fee_bps' })
  takerFeeBps!: number;

  @Column({ type: 'text' })
  status!: 'trading' | 'halted';
}
