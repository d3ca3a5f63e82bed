import { deadLetterSchema, TOPICS } from '@trading/contracts';
import type { Message } from 'kafkajs';
import type { BatchingProducer } from './batching-producer';
import type { DeadLetterSink } from './consumed-record';

/** Publishes rejected records to `platform.dead-letter.v1`, keyed by their source topic. */
export class DeadLetterPublisher implements DeadLetterSink {
  constructor(
    private readonly producer: BatchingProducer,
    private readonly consumerGroup: string,
  ) {}

  async deadLetter(record: {
    topic: string;
    partition: number;
    offset: string;
    key: string | null;
    value: string | null;
    reason: string;
  }): Promise<void> {
    await this.producer.send({
      topic: TOPICS.deadLetter.name,
      key: record.topic,
      schema: deadLetterSchema,
      value: {
        sourceTopic: record.topic,
        sourcePartition: record.partition,
        sourceOffset: record.offset,
        key: record.key,
        value: record.value,
        reason: record.reason,
        consumerGroup: this.consumerGroup,
        at: new Date().toISOString(),
      },
    });
  }
}

/** A dead-letter record for a consumed record, to send inside the consumer's own transaction. */
export function deadLetterMessage(
  record: { topic: string; partition: number; offset: string; key: string | null; value: string | null },
  reason: string,
  consumerGroup: string,
): Message {
  const value = deadLetterSchema.parse({
    sourceTopic: record.topic,
    sourcePartition: record.partition,
    sourceOffset: record.offset,
    key: record.key,
    value: record.value,
    reason,
    consumerGroup,
    at: new Date().toISOString(),
  });
  return { key: record.topic, value: JSON.stringify(value) };
}
