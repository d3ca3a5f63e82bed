import type { Kafka, Message, Producer } from 'kafkajs';

export interface TopicOutput {
  topic: string;
  messages: Message[];
}

/**
 * What one produce request may carry for one partition. The broker refuses a record batch above
 * `message.max.bytes` (1 MiB by default) with MESSAGE_TOO_LARGE, and kafkajs puts everything a
 * request holds for a partition into one batch: a matching batch caught up from a backlog (1 MiB
 * of commands in, more than that of executions out, all for its own partition) was refused on
 * every retry, and the partition stopped. Kept well below the limit for the batch's own overhead.
 */
export const MAX_PARTITION_BYTES_PER_REQUEST = 768 * 1024;
/** Kafka's per-record overhead (length, attributes, deltas, header count), rounded up. */
const RECORD_OVERHEAD_BYTES = 32;

const sizeOf = (v: Message['key'] | Message['value']): number =>
  v == null ? 0 : typeof v === 'string' ? Buffer.byteLength(v) : v.length;

/**
 * The outputs as consecutive sendBatch calls, none carrying more than `maxBytes` for one
 * partition (a single larger record goes alone), every partition's records in their order.
 * Messages that name no partition (dead letters) are counted together, as if they shared one.
 */
export function splitOutputs(
  outputs: TopicOutput[],
  maxBytes = MAX_PARTITION_BYTES_PER_REQUEST,
): TopicOutput[][] {
  const calls: TopicOutput[][] = [];
  let call = new Map<string, Message[]>();
  let used = new Map<string, number>();
  const flush = (): void => {
    if (call.size > 0) calls.push([...call].map(([topic, messages]) => ({ topic, messages })));
    call = new Map();
    used = new Map();
  };
  for (const { topic, messages } of outputs) {
    for (const m of messages) {
      const key = `${topic}\u0000${m.partition ?? '?'}`;
      const bytes = sizeOf(m.key) + sizeOf(m.value) + RECORD_OVERHEAD_BYTES;
      const sofar = used.get(key) ?? 0;
      if (sofar > 0 && sofar + bytes > maxBytes) flush();
      used.set(key, (used.get(key) ?? 0) + bytes);
      const list = call.get(topic);
      if (list) list.push(m);
      else call.set(topic, [m]);
    }
  }
  flush();
  return calls;
}

/**
 * Consume-process-produce, exactly once: for each input partition a transactional producer
 * (transactional id = group + topic + partition, so whoever owns the partition next fences the
 * previous owner) sends a batch's output and its consumed offset in one transaction.
 */
export class PartitionTransactions {
  private readonly producers = new Map<number, Producer>();

  constructor(
    private readonly kafka: Kafka,
    private readonly groupId: string,
    private readonly inputTopic: string,
    private readonly observe?: (outcome: 'commit' | 'abort', seconds: number) => void,
  ) {}

  /** Sends `outputs` and commits `nextOffset` for the partition atomically; aborts and rethrows on failure. */
  async commit(partition: number, nextOffset: number, outputs: TopicOutput[]): Promise<void> {
    const started = process.hrtime.bigint();
    const producer = await this.producerFor(partition);
    const txn = await producer.transaction();
    try {
      for (const topicMessages of splitOutputs(outputs)) await txn.sendBatch({ topicMessages, acks: -1 });
      await txn.sendOffsets({
        consumerGroupId: this.groupId,
        topics: [{ topic: this.inputTopic, partitions: [{ partition, offset: String(nextOffset) }] }],
      });
      await txn.commit();
      this.observe?.('commit', Number(process.hrtime.bigint() - started) / 1e9);
    } catch (err) {
      this.observe?.('abort', Number(process.hrtime.bigint() - started) / 1e9);
      await txn.abort().catch(() => undefined);
      // A fenced or broken producer is not reused; the next batch starts a fresh one.
      this.producers.delete(partition);
      await producer.disconnect().catch(() => undefined);
      throw err;
    }
  }

  /** Drops the producers of partitions this member no longer owns. */
  retain(owned: Set<number>): void {
    for (const [p, producer] of [...this.producers]) {
      if (!owned.has(p)) {
        this.producers.delete(p);
        void producer.disconnect().catch(() => undefined);
      }
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.producers.values()].map((p) => p.disconnect().catch(() => undefined)));
    this.producers.clear();
  }

  private async producerFor(partition: number): Promise<Producer> {
    let producer = this.producers.get(partition);
    if (!producer) {
      producer = this.kafka.producer({
        transactionalId: `${this.groupId}.${this.inputTopic}.${partition}`,
        idempotent: true,
        maxInFlightRequests: 1,
        // Short, so a process killed mid-transaction blocks read-committed readers only briefly.
        transactionTimeout: 10_000,
        allowAutoTopicCreation: false,
      });
      await producer.connect();
      this.producers.set(partition, producer);
    }
    return producer;
  }
}
