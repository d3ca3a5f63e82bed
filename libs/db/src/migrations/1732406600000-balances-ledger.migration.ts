import type { MigrationInterface, QueryRunner } from 'typeorm';

// Forward-only. Balances are integers in the asset's smallest unit and can never go negative;
// every change is an immutable ledger row with a natural idempotency key, and the balance moves
// only when its ledger row is new (one statement does both), so a replay never moves money twice.
export class BalancesLedger1732406600000 implements MigrationInterface {
  name = 'BalancesLedger1732406600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE balances (
        account_id  text NOT NULL,
        asset       text NOT NULL REFERENCES assets(code),
        available   bigint NOT NULL DEFAULT 0 CHECK (available >= 0),
        held        bigint NOT NULL DEFAULT 0 CHECK (held >= 0),
        updated_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (account_id, asset)
      )`);
    await q.query(`
      CREATE TABLE ledger (
        entry_id         bigint GENERATED ALWAYS AS IDENTITY,
        entry_key        text PRIMARY KEY,
        account_id       text NOT NULL,
        asset            text NOT NULL,
        available_delta  bigint NOT NULL,
        held_delta       bigint NOT NULL,
        kind             text NOT NULL CHECK (kind IN ('deposit', 'withdrawal', 'hold', 'release', 'trade', 'fee')),
        ref              text NOT NULL,
        created_at       timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE UNIQUE INDEX ledger_entry_id_uq ON ledger (entry_id)`);
    await q.query(`CREATE INDEX ledger_account_idx ON ledger (account_id, entry_id DESC)`);
    await q.query(`
      CREATE TABLE consumer_offsets (
        group_id     text NOT NULL,
        topic        text NOT NULL,
        partition    integer NOT NULL,
        next_offset  bigint NOT NULL,
        updated_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (group_id, topic, partition)
      )`);
    // Commands the router has decided to route, written with the decision and sent after it
    // commits; re-sent after a crash (matching drops repeats by partition + offset).
    await q.query(`
      CREATE TABLE router_outbox (
        input_partition  integer NOT NULL,
        input_offset     bigint NOT NULL,
        topic            text NOT NULL,
        message_key      text NOT NULL,
        payload          text NOT NULL,
        created_at       timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (input_partition, input_offset)
      )`);
    await q.query(`ALTER TABLE orders ADD COLUMN hold_asset text, ADD COLUMN hold_remaining bigint NOT NULL DEFAULT 0 CHECK (hold_remaining >= 0),
                     ADD COLUMN protection_price bigint, ADD COLUMN quote_budget bigint`);
  }

  async down(): Promise<void> {
    throw new Error('migrations are forward-only');
  }
}
