/**
 * Every Kafka topic of the platform, declared once. Infrastructure (topic creation), producers
 * and consumers all read this table. Names are versioned: `<domain>.<entity>.v<N>`.
 */
export interface TopicSpec {
  /** Versioned topic name. */
  readonly name: string;
  /** What the record key is; it decides the partition (murmur2, Java-compatible). */
  readonly key: 'accountId' | 'symbol' | 'none';
  /** Partition count; `default` uses the configured platform-wide count. */
  readonly partitions: number | 'default';
  /** Extra broker-side topic configs. */
  readonly config?: Readonly<Record<string, string>>;
}

export const DEFAULT_PARTITIONS = 12;

export const TOPICS = {
  orderCommands: { name: 'orders.commands.v1', key: 'accountId', partitions: 'default' },
  ordersSequenced: { name: 'orders.sequenced.v1', key: 'symbol', partitions: 'default' },
  executions: { name: 'executions.v1', key: 'symbol', partitions: 'default' },
  // Co-partitioned with orders.commands.v1 (same count, same key) so one router owns both.
  // v2: a record carries every update of one matching transaction for one partition
  // (orderUpdateBatchSchema); v1 carried one update per record.
  orderUpdates: { name: 'orders.updates.v2', key: 'accountId', partitions: 'default' },
  // The order-router's per-account stream (orders and balances, each record numbered by the
  // account's seq): produced from the router's outbox after each commit, at least once; every
  // gateway reads all of it from the end (ADR 0014).
  accountEvents: { name: 'account.events.v1', key: 'accountId', partitions: 'default' },
  engineSnapshots: {
    name: 'engine.snapshots.v1',
    key: 'symbol',
    partitions: 'default',
    config: { 'cleanup.policy': 'compact' },
  },
  deadLetter: { name: 'platform.dead-letter.v1', key: 'none', partitions: 3 },
} as const satisfies Record<string, TopicSpec>;

export type TopicKey = keyof typeof TOPICS;

/** Resolves the partition count of every topic for a given platform-wide default. */
export function topicPlan(
  defaultPartitions: number = DEFAULT_PARTITIONS,
): { name: string; partitions: number; config: Record<string, string> }[] {
  return Object.values(TOPICS).map((t: TopicSpec) => ({
    name: t.name,
    partitions: t.partitions === 'default' ? defaultPartitions : t.partitions,
    config: { ...(t.config ?? {}) },
  }));
}
