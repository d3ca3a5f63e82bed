import type { MigrationInterface, QueryRunner } from 'typeorm';

// Forward-only. A market's price band as the matching engine applies it: the lowest and highest
// limit price accepted (new limit and stop-limit prices, amended prices), as exact decimals on
// the market's tick grid; NULL: no bound. Existing markets get no band (both NULL), which is what
// they had: price_band_pct was never read by any service (it stays, unused; the engine's band is
// absolute prices, a percentage would need a reference price the engine does not have).
export class MarketPriceBand1732407000000 implements MigrationInterface {
  name = 'MarketPriceBand1732407000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE markets
        ADD COLUMN price_band_min numeric(38, 18) CHECK (price_band_min > 0),
        ADD COLUMN price_band_max numeric(38, 18) CHECK (price_band_max > 0),
        ADD CONSTRAINT markets_price_band_order CHECK (price_band_min IS NULL OR price_band_max IS NULL OR price_band_min <= price_band_max)`);
  }

  async down(): Promise<void> {
    throw new Error('migrations are forward-only');
  }
}
