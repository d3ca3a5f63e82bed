/**
 * Creates the platform's Kafka topics from their one declaration, `topicPlan()` in
 * libs/contracts/src/topics.ts. Idempotent: existing topics are left as they are (a partition
 * count that differs from the plan is reported, never changed: it would move keys).
 *
 * Run by native/infra.sh: `node -r @swc-node/register native/lib/create-topics.ts`.
 * Env: KAFKA_BROKERS (default 127.0.0.1:19092), KAFKA_PARTITIONS (default 12),
 * KAFKA_REPLICATION_FACTOR (default 1).
 */
import { Kafka, logLevel } from 'kafkajs';
import { topicPlan } from '../../libs/contracts/src/topics';

function intFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`${name} must be a positive integer, got '${raw}'`);
  }
  return value;
}

async function main(): Promise<void> {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
  const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:19092').split(',');
  const partitions = intFromEnv('KAFKA_PARTITIONS', 12);
  const replicationFactor = intFromEnv('KAFKA_REPLICATION_FACTOR', 1);
  const plan = topicPlan(partitions);

  const kafka = new Kafka({ clientId: 'infra-create-topics', brokers, logLevel: logLevel.ERROR });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = plan.filter((t) => !existing.has(t.name));
    const present = plan.filter((t) => existing.has(t.name));

    if (present.length > 0) {
      const meta = await admin.fetchTopicMetadata({ topics: present.map((t) => t.name) });
      for (const t of present) {
        const actual = meta.topics.find((m) => m.name === t.name)?.partitions.length;
        if (actual !== t.partitions) {
          console.warn(
            `[topics] WARNING: ${t.name} has ${actual} partitions, the plan says ${t.partitions}; left unchanged`,
          );
        }
      }
    }

    if (missing.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((t) => ({
          topic: t.name,
          numPartitions: t.partitions,
          replicationFactor,
          configEntries: Object.entries(t.config).map(([name, value]) => ({ name, value })),
        })),
      });
    }
    console.log(
      `[topics] ${plan.length} planned, ${missing.length} created` +
        (missing.length > 0 ? ` (${missing.map((t) => `${t.name}:${t.partitions}`).join(', ')})` : '') +
        `, ${present.length} already present`,
    );
  } finally {
    await admin.disconnect();
  }
}

main().catch((err: unknown) => {
  console.error(`[topics] ERROR: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
