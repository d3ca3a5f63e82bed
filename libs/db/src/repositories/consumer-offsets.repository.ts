import type { DataSource, EntityManager } from 'typeorm';

type Executor = DataSource | EntityManager;

/**
 * Consumer positions kept in the database, committed in the same transaction as the effects of
 * the records before them: the effects and the position can never disagree.
 */
export class ConsumerOffsetsRepository {
  constructor(private readonly db: DataSource) {}

  async load(
    groupId: string,
    topic: string,
    partition: number,
    tx: Executor = this.db,
  ): Promise<number | null> {
    const rows = (await tx.query(
      `SELECT next_offset::text AS next_offset FROM consumer_offsets WHERE group_id = $1 AND topic = $2 AND partition = $3`,
      [groupId, topic, partition],
    )) as { next_offset: string }[];
    return rows.length ? Number(rows[0].next_offset) : null;
  }

  async save(
    groupId: string,
    topic: string,
    partition: number,
    nextOffset: number,
    tx: Executor = this.db,
  ): Promise<void> {
    await tx.query(
      `INSERT INTO consumer_offsets (group_id, topic, partition, next_offset) VALUES ($1, $2, $3, $4)
       ON CONFLICT (group_id, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()`,
      [groupId, topic, partition, nextOffset],
    );
  }
}
