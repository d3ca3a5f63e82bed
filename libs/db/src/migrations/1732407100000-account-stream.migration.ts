import type { MigrationInterface, QueryRunner } from 'typeorm';

// Forward-only. The own-orders stream's state (ADR 0014): each account's last stream sequence
// number, written by the order-router in the transaction of the batch that produced the updates
// (so a snapshot read in one transaction has orders, balances and the seq they correspond to),
// and the router's outbox of stream records committed but maybe not yet on account.events.v1
// (one row per batch; a partition's rows are deleted by its next commit, when they were sent).
// Existing accounts have no row: seq 0, no update sent yet.
export class AccountStream1732407100000 implements MigrationInterface {
  name = 'AccountStream1732407100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE account_stream_seq (
        account_id text PRIMARY KEY,
        seq        bigint NOT NULL CHECK (seq > 0)
      )`);
    await q.query(`
      CREATE TABLE account_events_outbox (
        id               bigserial PRIMARY KEY,
        router_partition int NOT NULL,
        records          text NOT NULL
      )`);
    await q.query(
      `CREATE INDEX account_events_outbox_partition ON account_events_outbox (router_partition, id)`,
    );
  }

  async down(): Promise<void> {
    throw new Error('migrations are forward-only');
  }
}
