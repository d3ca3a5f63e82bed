import type { DataSource, EntityManager } from 'typeorm';

export interface OutboxRow {
  partition: number;
  offset: number;
  topic: string;
  key: string;
  payload: string;
}

type Executor = DataSource | EntityManager;

/** The order-router's outbox: routed commands committed with their decision, sent after. */
export class RouterOutboxRepository {
  constructor(private readonly db: DataSource) {}

  async add(rows: OutboxRow[], tx: Executor): Promise<void> {
    if (rows.length === 0) return;
    await tx.query(
      `INSERT INTO router_outbox (input_partition, input_offset, topic, message_key, payload)
       SELECT * FROM unnest($1::int[], $2::bigint[], $3::text[], $4::text[], $5::text[])
       ON CONFLICT DO NOTHING`,
      [
        rows.map((r) => r.partition),
        rows.map((r) => r.offset),
        rows.map((r) => r.topic),
        rows.map((r) => r.key),
        rows.map((r) => r.payload),
      ],
    );
  }

  /** Rows of earlier batches were sent before this batch started; they can go. */
  async prune(partition: number, beforeOffset: number, tx: Executor): Promise<void> {
    await tx.query(`DELETE FROM router_outbox WHERE input_partition = $1 AND input_offset < $2`, [
      partition,
      beforeOffset,
    ]);
  }

  async pending(partition: number): Promise<OutboxRow[]> {
    const rows = (await this.db.query(
      `SELECT input_offset::text AS o, topic, message_key, payload FROM router_outbox WHERE input_partition = $1 ORDER BY input_offset`,
      [partition],
    )) as { o: string; topic: string; message_key: string; payload: string }[];
    return rows.map((r) => ({
      partition,
      offset: Number(r.o),
      topic: r.topic,
      key: r.message_key,
      payload: r.payload,
    }));
  }
}
