import type { Consumer, EachBatchPayload, IHeaders, Kafka, KafkaMessage } from 'kafkajs';
import type { z } from 'zod';
import { type BackoffOptions, retryBatch } from './batch-retry';

export interface ConsumedRecord<T> {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: T;
  headers: IHeaders;
  timestamp: string;
}

export interface ConsumerMetrics {
  observeBatch(topic: string, partition: number, size: number, lag: number): void;
  deadLettered(topic: string, reason: string): void;
  /** A batch failed and is retried after a backoff. */
  retried?(topic: string): void;
}

export interface DeadLetterSink {
  deadLetter(record: {
    topic: string;
    partition: number;
    offset: string;
    key: string | null;
    value: string | null;
    reason: string;
  }): Promise<void>;
}

export interface ValidatedConsumerOptions<T> {
  groupId: string;
  topics: string[];
  schema: z.ZodType<T>;
  /**
   * Handles the valid records of one partition batch, in offset order. Throwing retries the
   * batch after a backoff; the offset never moves past a record that was not handled.
   */
  handle: (
    records: ConsumedRecord<T>[],
    ctx: { partition: number; topic: string; heartbeat: () => Promise<void> },
  ) => Promise<void>;
  deadLetters: DeadLetterSink;
  metrics?: ConsumerMetrics;
  readUncommitted?: boolean;
  fromBeginning?: boolean;
  /** Fetch settings (see fetchOptions); kafkajs-like defaults when absent. */
  fetch?: { maxWaitTimeInMs: number; minBytes: number };
  backoff?: BackoffOptions;
  /** Told about each failed attempt (after the metric is counted), e.g. to log it. */
  onRetry?: (topic: string, partition: number, attempt: number, delayMs: number, err: unknown) => void;
  onRebalance?: (event: 'assign' | 'revoke', assignment: Record<string, number[]>) => void;
}

/** Decodes and validates one message; returns the reason when it is not a valid record. */
export function decodeMessage<T>(
  schema: z.ZodType<T>,
  message: KafkaMessage,
): { ok: true; value: T } | { ok: false; reason: string } {
  if (!message.value) return { ok: false, reason: 'empty value' };
  let json: unknown;
  try {
    json = JSON.parse(message.value.toString('utf8'));
  } catch {
    return { ok: false, reason: 'value is not JSON' };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    return {
      ok: false,
      reason: parsed.error.issues
        .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
        .join('; ')
        .slice(0, 1000),
    };
  }
  return { ok: true, value: parsed.data };
}

/**
 * A consumer-group member that validates every record against its contract. Invalid records go
 * to the dead-letter topic with the reason and their offset is committed: they never stall a
 * partition. Valid records reach `handle` in per-partition batches; offsets are committed only
 * after `handle` resolves, so a crash re-delivers (handlers are idempotent). A failing `handle`
 * is retried with a bounded exponential backoff until it succeeds (the partition waits).
 */
export class ValidatedConsumer<T> {
  private readonly consumer: Consumer;
  private running = false;

  constructor(
    kafka: Kafka,
    private readonly options: ValidatedConsumerOptions<T>,
  ) {
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      readUncommitted: options.readUncommitted ?? false,
      sessionTimeout: 10000,
      heartbeatInterval: 1000,
      rebalanceTimeout: 15000,
      maxWaitTimeInMs: options.fetch?.maxWaitTimeInMs ?? 50,
      minBytes: options.fetch?.minBytes ?? 1,
      allowAutoTopicCreation: false,
    });
    if (options.onRebalance) {
      const cb = options.onRebalance;
      this.consumer.on(this.consumer.events.GROUP_JOIN, (e) => cb('assign', e.payload.memberAssignment));
    }
  }

  get raw(): Consumer {
    return this.consumer;
  }

  get isRunning(): boolean {
    return this.running;
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    for (const topic of this.options.topics) {
      await this.consumer.subscribe({ topic, fromBeginning: this.options.fromBeginning ?? true });
    }
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 4,
      eachBatch: (payload) => this.onBatch(payload),
    });
    this.running = true;
  }

  /** Stops fetching, lets the batch in hand finish and commit, then leaves the group. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    await this.consumer.disconnect();
  }

  private async onBatch({
    batch,
    resolveOffset,
    heartbeat,
    commitOffsetsIfNecessary,
    uncommittedOffsets,
    isRunning,
    isStale,
  }: EachBatchPayload): Promise<void> {
    const valid: ConsumedRecord<T>[] = [];
    let lastSeen: string | undefined;
    for (const message of batch.messages) {
      if (!isRunning() || isStale()) break;
      lastSeen = message.offset;
      const decoded = decodeMessage(this.options.schema, message);
      if (decoded.ok) {
        valid.push({
          topic: batch.topic,
          partition: batch.partition,
          offset: message.offset,
          key: message.key ? message.key.toString('utf8') : null,
          value: decoded.value,
          headers: message.headers ?? {},
          timestamp: message.timestamp,
        });
      } else {
        await this.options.deadLetters.deadLetter({
          topic: batch.topic,
          partition: batch.partition,
          offset: message.offset,
          key: message.key ? message.key.toString('utf8') : null,
          value: message.value ? message.value.toString('utf8') : null,
          reason: decoded.reason,
        });
        this.options.metrics?.deadLettered(batch.topic, 'contract');
      }
    }
    if (valid.length > 0) {
      await retryBatch(
        () => this.options.handle(valid, { partition: batch.partition, topic: batch.topic, heartbeat }),
        { isRunning, isStale, heartbeat },
        {
          backoff: this.options.backoff,
          onRetry: (attempt, delay, err) => {
            this.options.metrics?.retried?.(batch.topic);
            this.options.onRetry?.(batch.topic, batch.partition, attempt, delay, err);
          },
        },
      );
    }
    // Only what was looked at is resolved: a stop mid-batch re-delivers the rest.
    if (lastSeen !== undefined) resolveOffset(lastSeen);
    // With autoCommit off, the no-argument form never commits: pass the resolved offsets.
    await commitOffsetsIfNecessary(uncommittedOffsets());
    await heartbeat();
    this.options.metrics?.observeBatch(
      batch.topic,
      batch.partition,
      batch.messages.length,
      Number(batch.offsetLag()),
    );
  }
}
