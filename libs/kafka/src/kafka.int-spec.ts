import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { kafkaSchema, loadConfig } from '@trading/config';
import { deadLetterSchema, topicPlan, TOPICS } from '@trading/contracts';
import { BatchingProducer } from './batching-producer';
import { DeadLetterPublisher } from './dead-letter-publisher';
import { createKafka } from './kafka-client';
import { partitionFor } from './murmur2';
import { PartitionTransactions } from './partition-transactions';
import type { ConsumedRecord } from './consumed-record';
import { PartitionConsumer } from './partition-consumer';
// The polling helper every integration suite shares (scripts/testing; test-only, not a project import).
// eslint-disable-next-line @nx/enforce-module-boundaries
import { until } from '../../../scripts/testing/until';

// Talks to the real broker started by native/infra.sh.
const config = loadConfig(kafkaSchema);
const kafka = createKafka(config, 'kafka-int-spec');
const pingSchema = z.object({ n: z.number().int(), symbol: z.string() });
type Ping = z.infer<typeof pingSchema>;

/** Until `predicate` holds (polled every 50 ms). */
const waitFor = (what: string, predicate: () => boolean): Promise<true> =>
  until(what, () => predicate() || undefined, 30_000, 50);

describe('kafka on the real broker', () => {
  jest.setTimeout(90_000);
  const topic = `test.ping.${randomUUID().slice(0, 8)}`;
  const admin = kafka.admin();
  const producer = new BatchingProducer(kafka, {
    partitions: (t) => (t === topic ? 6 : (topicPlan().find((p) => p.name === t)?.partitions ?? 12)),
    lingerMs: 2,
  });

  beforeAll(async () => {
    await admin.connect();
    await admin.createTopics({
      topics: [{ topic, numPartitions: 6, replicationFactor: 1 }],
      waitForLeaders: true,
    });
    await producer.connect();
  });

  afterAll(async () => {
    await producer.disconnect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('produces batched records on murmur2 partitions and consumes each once, dead-lettering an invalid one', async () => {
    const received: ConsumedRecord<Ping>[] = [];
    const deadLetters: string[] = [];
    const group = `test-${randomUUID()}`;
    const consumer = new PartitionConsumer(kafka, {
      name: 'test',
      groupId: group,
      topics: { [topic]: pingSchema },
      commit: { kind: 'consumer' },
      deadLetters: {
        deadLetter: async (r) => {
          deadLetters.push(r.reason);
        },
      },
    });
    consumer.addHandler(
      topic,
      (async (records: ConsumedRecord<Ping>[]) => {
        received.push(...records);
      }) as never,
      true,
    );
    consumer.listen(() => undefined);

    const symbols = ['BTC-USDT', 'ETH-USDT', 'SOL-USDT'];
    await Promise.all(
      Array.from({ length: 300 }, (_, n) => {
        const symbol = symbols[n % 3];
        return producer.send({ topic, key: symbol, value: { n, symbol }, schema: pingSchema });
      }),
    );
    // A record that bypassed the contract (another client, a bug) must not stall the partition.
    const raw = kafka.producer();
    await raw.connect();
    await raw.send({
      topic,
      messages: [{ key: 'BTC-USDT', value: '{"n":"not a number"}', partition: partitionFor('BTC-USDT', 6) }],
    });
    await raw.send({
      topic,
      messages: [
        {
          key: 'BTC-USDT',
          value: JSON.stringify({ n: 300, symbol: 'BTC-USDT' }),
          partition: partitionFor('BTC-USDT', 6),
        },
      ],
    });
    await raw.disconnect();

    await waitFor('301 records and a dead letter', () => received.length >= 301 && deadLetters.length >= 1);
    await consumer.close();

    expect(received).toHaveLength(301);
    expect(new Set(received.map((r) => r.value.n)).size).toBe(301);
    for (const r of received) expect(r.partition).toBe(partitionFor(r.value.symbol, 6));
    // Per key, order is preserved.
    const btc = received.filter((r) => r.value.symbol === 'BTC-USDT').map((r) => r.value.n);
    expect(btc).toEqual([...btc].sort((a, b) => a - b));
    expect(deadLetters).toEqual([expect.stringContaining('n:')]);
  });

  it('refuses to produce a record that violates its contract', () => {
    expect(() =>
      producer.send({ topic, key: 'x', value: { n: 1.5, symbol: 'x' }, schema: pingSchema }),
    ).toThrow(/violates its contract/);
  });

  it('publishes dead letters to the dead-letter topic', async () => {
    const dlq = new DeadLetterPublisher(producer, 'test-group');
    const marker = randomUUID();
    await dlq.deadLetter({ topic, partition: 0, offset: '42', key: 'k', value: marker, reason: 'because' });
    const found: unknown[] = [];
    const consumer = kafka.consumer({ groupId: `dlq-${randomUUID()}` });
    await consumer.connect();
    await consumer.subscribe({ topic: TOPICS.deadLetter.name, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        // Other suites dead-letter too; only our marker matters, and it must match the contract.
        if (!message.value?.toString().includes(marker)) return;
        found.push(deadLetterSchema.parse(JSON.parse(message.value.toString())));
      },
    });
    await waitFor('the one record', () => found.length === 1);
    await consumer.disconnect();
    expect(found[0]).toMatchObject({
      sourceTopic: topic,
      sourceOffset: '42',
      reason: 'because',
      consumerGroup: 'test-group',
    });
  });
  it('commits a transaction whose output for one partition is larger than one request may carry', async () => {
    // A backlog batch of the matching worker: ~2.5 MB of executions for its own partition, more
    // than the broker's message.max.bytes (1 MiB) per partition and request.
    const txns = new PartitionTransactions(kafka, `test-txn-${randomUUID()}`, topic);
    const messages = Array.from({ length: 6000 }, (_, n) => ({
      key: 'BTC-USDT',
      partition: 2,
      value: JSON.stringify({ n, symbol: 'BTC-USDT', pad: 'x'.repeat(380) }),
    }));
    try {
      await txns.commit(0, 1, [{ topic, messages }]);
    } finally {
      await txns.close();
    }
    const seen: number[] = [];
    const consumer = kafka.consumer({ groupId: `txn-${randomUUID()}`, readUncommitted: false });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        if (partition !== 2) return;
        const v = JSON.parse(message.value!.toString()) as { n: number; pad?: string };
        if (v.pad) seen.push(v.n);
      },
    });
    await waitFor('every record', () => seen.length >= messages.length);
    await consumer.disconnect();
    expect(seen).toEqual(messages.map((_, n) => n));
  });
});
