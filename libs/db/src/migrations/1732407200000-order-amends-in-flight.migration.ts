import type { MigrationInterface, QueryRunner } from 'typeorm';

// Forward-only. The amends the order-router routed to matching and has not seen answered, by
// order (RiskResult.amends, written in the transaction of the batch that changed them): what an
// amend up holds must stay held until matching applies or refuses it, and a router that restarts
// (or takes a partition over) rebuilds its risk engine from the database. Without this table the
// new engine forgot them: a refusal or a fill released the extra hold while an amend up was still
// in flight, and the order then rested larger than its hold. `amends` is the JSON list, oldest
// first ([{"price":120},{"qty":5}]); an order with none has no row.
export class OrderAmendsInFlight1732407200000 implements MigrationInterface {
  name = 'OrderAmendsInFlight1732407200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE order_amends_in_flight (
        order_id text PRIMARY KEY,
        amends   text NOT NULL
      )`);
  }

  async down(): Promise<void> {
    throw new Error('migrations are forward-only');
  }
}
