import type { MigrationInterface, QueryRunner } from 'typeorm';
import { candleViewsSql, hasTimescale, timescaleSql } from '../timescale';

// Forward-only. Prices are integer ticks and quantities integer lots of the market; hot tables
// carry a natural key so batched inserts can be `ON CONFLICT DO NOTHING` on replay.
export class OrderPipeline1732406500000 implements MigrationInterface {
  name = 'OrderPipeline1732406500000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE accounts (
        account_id   text PRIMARY KEY CHECK (account_id ~ '^[A-Za-z0-9_.:-]{1,64}$'),
        name         text NOT NULL,
        kind         text NOT NULL DEFAULT 'trader' CHECK (kind IN ('trader', 'fee', 'operator')),
        created_at   timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE api_keys (
        key_id       text PRIMARY KEY,
        account_id   text NOT NULL REFERENCES accounts(account_id),
        -- AES-256-GCM under the platform key; the plaintext secret is never stored or logged.
        secret_enc   bytea NOT NULL,
        label        text NOT NULL DEFAULT '',
        created_at   timestamptz NOT NULL DEFAULT now(),
        revoked_at   timestamptz
      )`);
    await q.query(`CREATE INDEX api_keys_account_idx ON api_keys (account_id)`);
    await q.query(`
      CREATE TABLE orders (
        order_id         text PRIMARY KEY,
        account_id       text NOT NULL,
        symbol           text NOT NULL,
        client_order_id  text,
        side             text NOT NULL CHECK (side IN ('buy', 'sell')),
        order_type       text NOT NULL,
        tif              text NOT NULL,
        post_only        boolean NOT NULL DEFAULT false,
        price            bigint,
        stop_price       bigint,
        display_qty      bigint,
        qty              bigint NOT NULL CHECK (qty > 0),
        filled_qty       bigint NOT NULL DEFAULT 0 CHECK (filled_qty >= 0),
        -- sum of price x qty over fills, in ticks x lots: the average price without floats
        filled_notional  bigint NOT NULL DEFAULT 0,
        status           text NOT NULL CHECK (status IN ('pending', 'new', 'partially_filled', 'filled', 'cancelled', 'rejected', 'expired')),
        reason           text,
        last_seq         bigint NOT NULL DEFAULT 0,
        received_at      timestamptz NOT NULL,
        created_at       timestamptz NOT NULL DEFAULT now(),
        updated_at       timestamptz NOT NULL DEFAULT now(),
        CHECK (filled_qty <= qty)
      )`);
    await q.query(
      `CREATE UNIQUE INDEX orders_client_order_id_uq ON orders (account_id, client_order_id) WHERE client_order_id IS NOT NULL`,
    );
    await q.query(`CREATE INDEX orders_account_idx ON orders (account_id, created_at DESC, order_id DESC)`);
    await q.query(
      `CREATE INDEX orders_open_idx ON orders (account_id, symbol) WHERE status IN ('pending', 'new', 'partially_filled')`,
    );
    await q.query(`
      CREATE TABLE order_events (
        symbol      text NOT NULL,
        seq         bigint NOT NULL,
        order_id    text NOT NULL,
        account_id  text NOT NULL,
        type        text NOT NULL,
        payload     jsonb NOT NULL,
        emitted_at  timestamptz NOT NULL,
        PRIMARY KEY (symbol, seq, order_id, emitted_at)
      )`);
    await q.query(`CREATE INDEX order_events_order_idx ON order_events (order_id, seq)`);
    await q.query(`
      CREATE TABLE trades (
        symbol            text NOT NULL,
        seq               bigint NOT NULL,
        price             bigint NOT NULL CHECK (price > 0),
        qty               bigint NOT NULL CHECK (qty > 0),
        maker_order_id    text NOT NULL,
        taker_order_id    text NOT NULL,
        maker_account_id  text NOT NULL,
        taker_account_id  text NOT NULL,
        taker_side        text NOT NULL CHECK (taker_side IN ('buy', 'sell')),
        received_at       timestamptz NOT NULL,
        executed_at       timestamptz NOT NULL,
        PRIMARY KEY (symbol, seq, executed_at)
      )`);
    await q.query(`CREATE INDEX trades_symbol_time_idx ON trades (symbol, executed_at DESC)`);
    await q.query(`CREATE INDEX trades_maker_account_idx ON trades (maker_account_id, executed_at DESC)`);
    await q.query(`CREATE INDEX trades_taker_account_idx ON trades (taker_account_id, executed_at DESC)`);
    await q.query(`
      CREATE TABLE engine_snapshots (
        input_partition  integer PRIMARY KEY,
        input_offset     bigint NOT NULL,
        state            jsonb NOT NULL,
        state_hash       bigint NOT NULL,
        taken_at         timestamptz NOT NULL DEFAULT now()
      )`);

    if (await hasTimescale(q)) {
      for (const sql of timescaleSql()) await q.query(sql);
    } else {
      for (const sql of candleViewsSql()) await q.query(sql);
    }
  }

  async down(): Promise<void> {
    throw new Error('migrations are forward-only');
  }
}
