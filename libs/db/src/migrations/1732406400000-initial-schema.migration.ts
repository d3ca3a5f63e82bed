import type { MigrationInterface, QueryRunner } from 'typeorm';

// Forward-only. Amounts are integers in the asset's smallest unit; market steps are decimal
// strings kept exact in NUMERIC and converted to integer ticks/lots at the edge.
export class InitialSchema1732406400000 implements MigrationInterface {
  name = 'InitialSchema1732406400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE assets (
        code        text PRIMARY KEY CHECK (code ~ '^[A-Z0-9]{2,12}$'),
        decimals    smallint NOT NULL CHECK (decimals BETWEEN 0 AND 18),
        created_at  timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE markets (
        symbol          text PRIMARY KEY CHECK (symbol ~ '^[A-Z0-9]{2,12}-[A-Z0-9]{2,12}$'),
        base_asset      text NOT NULL REFERENCES assets(code),
        quote_asset     text NOT NULL REFERENCES assets(code),
        tick_size       numeric(38, 18) NOT NULL CHECK (tick_size > 0),
        lot_size        numeric(38, 18) NOT NULL CHECK (lot_size > 0),
        min_qty_lots    bigint NOT NULL DEFAULT 1 CHECK (min_qty_lots > 0),
        min_notional    numeric(38, 18) NOT NULL DEFAULT 0 CHECK (min_notional >= 0),
        price_band_pct  integer NOT NULL DEFAULT 0 CHECK (price_band_pct >= 0),
        maker_fee_bps   integer NOT NULL DEFAULT 10 CHECK (maker_fee_bps BETWEEN 0 AND 1000),
        taker_fee_bps   integer NOT NULL DEFAULT 20 CHECK (taker_fee_bps BETWEEN 0 AND 1000),
        status          text NOT NULL DEFAULT 'trading' CHECK (status IN ('trading', 'halted')),
        created_at      timestamptz NOT NULL DEFAULT now(),
        updated_at      timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(): Promise<void> {
    throw new Error('migrations are forward-only');
  }
}
