import type { Kafka, Message, Producer } from 'kafkajs';

export interface TopicOutput {
  topic: string;
  messages: Message[];
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
      const topicMessages = outputs.filter((t) => t.messages.length > 0);
      if (topicMessages.length > 0) await txn.sendBatch({ topicMessages, acks: -1 });
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
