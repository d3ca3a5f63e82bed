import type { Kafka, ProducerBatch } from 'kafkajs';
import { z } from 'zod';
import { BatchingProducer, SendExpiredError } from './batching-producer';

// A stand-in for the kafkajs client: records which producer instance sent what.
function fakeKafka(sendBatch: (instance: number, batch: ProducerBatch) => Promise<void>) {
  let created = 0;
  const kafka = {
    producer: jest.fn(() => {
      const instance = created++;
      return {
        connect: jest.fn(() => Promise.resolve()),
        disconnect: jest.fn(() => Promise.resolve()),
        sendBatch: (batch: ProducerBatch) => sendBatch(instance, batch),
      };
    }),
  };
  return { kafka: kafka as unknown as Kafka, created: () => created };
}

const schema = z.object({ n: z.number() });
const record = (n: number, deadline?: number) => ({ topic: 't', key: 'k', value: { n }, schema, deadline });
const values = (batch: ProducerBatch) =>
  batch.topicMessages!.flatMap((t) => t.messages.map((m) => JSON.parse(String(m.value)) as { n: number }));

describe('BatchingProducer', () => {
  it('never hands kafkajs a record whose caller gave up while it waited behind a slow batch', async () => {
    const sent: number[] = [];
    let release!: () => void;
    const { kafka } = fakeKafka(async (_i, batch) => {
      sent.push(...values(batch).map((v) => v.n));
      if (sent.length === 1) await new Promise<void>((r) => (release = r));
    });
    const producer = new BatchingProducer(kafka, { partitions: () => 1, lingerMs: 1 });
    await producer.connect();
    const first = producer.send(record(1));
    await new Promise((r) => setTimeout(r, 20));
    const expired = producer.send(record(2, Date.now() + 10));
    const fresh = producer.send(record(3, Date.now() + 60_000));
    await new Promise((r) => setTimeout(r, 40));
    release();
    await first;
    await expect(expired).rejects.toBeInstanceOf(SendExpiredError);
    await fresh;
    expect(sent).toEqual([1, 3]);
  });

  it('sends the batch after a failed one from a new producer (a fresh producer id)', async () => {
    const senders: number[] = [];
    const { kafka, created } = fakeKafka(async (instance) => {
      senders.push(instance);
      if (senders.length === 1) throw new Error('Connection error: connect ECONNREFUSED');
    });
    const producer = new BatchingProducer(kafka, { partitions: () => 1, lingerMs: 1 });
    await producer.connect();
    await expect(producer.send(record(1))).rejects.toThrow('ECONNREFUSED');
    await producer.send(record(2));
    await producer.send(record(3));
    expect(senders).toEqual([0, 1, 1]);
    expect(created()).toBe(2);
  });
});
