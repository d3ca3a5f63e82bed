import type { MigrationInterface, QueryRunner } from 'typeorm';

// An order keeps the fee rates in force when it was placed: its hold was sized for them, so a
// fee change applies to new orders only and can never outgrow what an open order holds.
export class OrderFeeRates1732406700000 implements MigrationInterface {
  name = 'OrderFeeRates1732406700000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE orders ADD COLUMN maker_fee_bps integer NOT NULL DEFAULT 0, ADD COLUMN taker_fee_bps integer NOT NULL DEFAULT 0`,
    );
  }

  async down(): Promise<void> {
    throw new Error('migrations are forward-only');
  }
}
