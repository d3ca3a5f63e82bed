import type { DataSource, EntityManager } from 'typeorm';

export interface OutboxRow {
  partition: number;
  offset: number;
  topic: string;
  key: string;
  payload: string;
}

type Executor = DataSource | EntityManager;

type OutboxRecord = [offset: number, topic: string, key: string, value: string];

/** One batch's routed commands as router_outbox_batches.records. */
export function outboxRecords(rows: OutboxRow[]): string {
  const records: OutboxRecord[] = rows.map((r) => [r.offset, r.topic, r.key, r.payload]);
  return JSON.stringify(records);
}

/**
 * The order-router's outbox: routed commands committed with their decision, sent after. One row
 * per consumed batch (router_outbox_batches, keyed by the batch's first routed offset), holding
 * the batch's commands in send order; rows of the older one-row-per-command table
 * (router_outbox) are still read and pruned.
 */
export class RouterOutboxRepository {
  constructor(private readonly db: DataSource) {}

  /** The routed commands of one batch (all of one partition, in offset order). */
  async add(rows: OutboxRow[], tx: Executor): Promise<void> {
    if (rows.length === 0) return;
    await tx.query(
      `INSERT INTO router_outbox_batches (input_partition, input_offset, records) VALUES ($1, $2, $3)
       ON CONFLICT DO NOTHING`,
      [rows[0].partition, rows[0].offset, outboxRecords(rows)],
    );
  }

  /** Rows of earlier batches were sent before this batch started; they can go. */
  async prune(partition: number, beforeOffset: number, tx: Executor): Promise<void> {
    await tx.query(
      `WITH legacy AS (DELETE FROM router_outbox WHERE input_partition = $1 AND input_offset < $2)
       DELETE FROM router_outbox_batches WHERE input_partition = $1 AND input_offset < $2`,
      [partition, beforeOffset],
    );
  }

  async pending(partition: number): Promise<OutboxRow[]> {
    const legacy = (await this.db.query(
      `SELECT input_offset::text AS o, topic, message_key, payload FROM router_outbox WHERE input_partition = $1 ORDER BY input_offset`,
      [partition],
    )) as { o: string; topic: string; message_key: string; payload: string }[];
    const batches = (await this.db.query(
      `SELECT records FROM router_outbox_batches WHERE input_partition = $1 ORDER BY input_offset`,
      [partition],
    )) as { records: string }[];
    const rows: OutboxRow[] = legacy.map((r) => ({
      partition,
      offset: Number(r.o),
      topic: r.topic,
      key: r.message_key,
      payload: r.payload,
    }));
    for (const b of batches)
      for (const [offset, topic, key, payload] of JSON.parse(b.records) as OutboxRecord[])
        rows.push({ partition, offset, topic, key, payload });
    return rows.sort((a, b) => a.offset - b.offset);
  }
}
