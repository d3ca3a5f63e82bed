import type { DataSource } from 'typeorm';

export interface PartitionSnapshotRow {
  inputPartition: number;
  /** Last input offset the state reflects. */
  inputOffset: number;
  state: unknown;
  stateHash: number;
}

/** Matching-engine snapshots, one row per input partition (all symbols of that partition). */
export class EngineSnapshotsRepository {
  constructor(private readonly db: DataSource) {}

  async load(partition: number): Promise<PartitionSnapshotRow | null> {
    const rows = (await this.db.query(
      `SELECT input_partition, input_offset::text AS input_offset, state, state_hash::text AS state_hash
       FROM engine_snapshots WHERE input_partition = $1`,
      [partition],
    )) as { input_partition: number; input_offset: string; state: unknown; state_hash: string }[];
    if (rows.length === 0) return null;
    const r = rows[0];
    return {
      inputPartition: r.input_partition,
      inputOffset: Number(r.input_offset),
      state: r.state,
      stateHash: Number(r.state_hash),
    };
  }

  /** Keeps the newest: an older snapshot (a slow zombie instance) never overwrites a newer one. */
  async save(s: PartitionSnapshotRow): Promise<void> {
    await this.db.query(
      `INSERT INTO engine_snapshots (input_partition, input_offset, state, state_hash, taken_at)
       VALUES ($1, $2, $3::jsonb, $4, now())
       ON CONFLICT (input_partition) DO UPDATE
         SET input_offset = EXCLUDED.input_offset, state = EXCLUDED.state, state_hash = EXCLUDED.state_hash, taken_at = now()
         WHERE engine_snapshots.input_offset < EXCLUDED.input_offset`,
      [s.inputPartition, s.inputOffset, JSON.stringify(s.state), s.stateHash],
    );
  }
}
