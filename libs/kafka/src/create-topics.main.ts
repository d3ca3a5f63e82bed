import { z } from 'zod';
import { loadConfig, kafkaSchema } from '@trading/config';
import { topicPlan } from '@trading/contracts';
import { createKafka } from './kafka-client';

// Creates the platform's topics from their one declaration, topicPlan() in @trading/contracts.
// native/infra.sh runs it with @swc-node/register; compose/ and swarm/ run it compiled as a one-shot container
// (`node dist/libs/kafka/src/create-topics.main.js`) by compose/ and swarm/.
// Idempotent: an existing topic is left as it is; a partition count that differs from the plan is
// reported, never changed (adding partitions moves keys, see docs/operations.md).
const schema = kafkaSchema.extend({
  KAFKA_REPLICATION_FACTOR: z.coerce.number().int().positive().default(1),
  // Brokers of a fresh cluster register one by one; keep retrying until this deadline.
  KAFKA_TOPICS_TIMEOUT_MS: z.coerce.number().int().positive().default(180_000),
});

function log(level: 'info' | 'warn' | 'error', msg: string, extra: Record<string, unknown> = {}): void {
  const line = `${JSON.stringify({ level, service: 'create-topics', msg, ...extra })}\n`;
  (level === 'info' ? process.stdout : process.stderr).write(line);
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

async function main(): Promise<void> {
  const config = loadConfig(schema);
  const plan = topicPlan(config.KAFKA_PARTITIONS);
  const rf = config.KAFKA_REPLICATION_FACTOR;
  const kafka = createKafka(config, 'create-topics', (level, message, extra) => {
    if (level === 'error' || level === 'warn') log('warn', message, extra);
  });
  const admin = kafka.admin();
  const deadline = Date.now() + config.KAFKA_TOPICS_TIMEOUT_MS;

  for (let attempt = 1; ; attempt++) {
    try {
      await admin.connect();
      // A replication factor above the live broker count fails; wait for the brokers instead.
      const { brokers } = await admin.describeCluster();
      if (brokers.length < rf) {
        throw new Error(`${brokers.length} broker(s) registered, replication factor ${rf} needs ${rf}`);
      }
      const existing = new Set(await admin.listTopics());
      const missing = plan.filter((t) => !existing.has(t.name));
      const present = plan.filter((t) => existing.has(t.name));
      if (present.length > 0) {
        const meta = await admin.fetchTopicMetadata({ topics: present.map((t) => t.name) });
        for (const t of present) {
          const actual = meta.topics.find((m) => m.name === t.name)?.partitions.length;
          if (actual !== t.partitions) {
            log('warn', 'partition count differs from the plan; left unchanged', {
              topic: t.name,
              actual,
              planned: t.partitions,
            });
          }
        }
      }
      if (missing.length > 0) {
        await admin.createTopics({
          waitForLeaders: true,
          topics: missing.map((t) => ({
            topic: t.name,
            numPartitions: t.partitions,
            replicationFactor: rf,
            configEntries: Object.entries(t.config).map(([name, value]) => ({ name, value })),
          })),
        });
      }
      await admin.disconnect();
      log('info', 'topics ensured', {
        planned: plan.length,
        created: missing.map((t) => `${t.name}:${t.partitions}`),
        present: present.length,
        replicationFactor: rf,
      });
      return;
    } catch (err) {
      await admin.disconnect().catch(() => undefined);
      const message = err instanceof Error ? err.message : String(err);
      if (Date.now() >= deadline) throw new Error(`gave up after ${attempt} attempts: ${message}`);
      log('warn', 'kafka not ready, retrying', { attempt, err: message });
      await sleep(Math.min(500 * attempt, 5000));
    }
  }
}

main().catch((err: unknown) => {
  log('error', 'topic creation failed', { err: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
