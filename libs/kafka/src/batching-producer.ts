import {
  CompressionTypes,
  type IHeaders,
  type Kafka,
  type Message,
  type Producer,
  type RetryOptions,
} from 'kafkajs';
import type { z } from 'zod';
import { partitionFor } from './murmur2';

export interface ProducerMetrics {
  observeSend(topic: string, seconds: number, messages: number, ok: boolean): void;
}

export interface BatchingProducerOptions {
  /** How long a record may wait for companions before its batch is sent. */
  lingerMs?: number;
  /** Send as soon as this many records are queued. */
  maxBatch?: number;
  /** Partition count per topic, to pin partitions with the Java-compatible murmur2. */
  partitions: (topic: string) => number;
  /** Transactional id: when set the producer is transactional (one per process instance). */
  transactionalId?: string;
  /**
   * kafkajs retries of one batch; bounded by default so a send during an outage fails within
   * seconds instead of being delivered minutes later to a caller that was told it failed.
   */
  retry?: RetryOptions;
  metrics?: ProducerMetrics;
}

/** About 2 s of attempts (0.1, 0.2, 0.4, 0.8, 1 s apart) before a batch is reported failed. */
export const DEFAULT_SEND_RETRY: RetryOptions = { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 };

export interface OutgoingRecord<T> {
  topic: string;
  key: string | null;
  value: T;
  schema: z.ZodType<T>;
  headers?: IHeaders;
  /** Explicit partition; defaults to murmur2(key) like the Java client. */
  partition?: number;
  /**
   * Epoch ms after which the record is dropped instead of handed to kafkajs (its caller has
   * given up and answered "failed"; sending it later would make that answer a lie).
   */
  deadline?: number;
}

interface Pending {
  topic: string;
  message: Message;
  deadline?: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** The record waited past its deadline (behind a slow or failing batch) and was never sent. */
export class SendExpiredError extends Error {
  constructor(readonly topic: string) {
    super(`record for ${topic} expired before it could be sent`);
    this.name = 'SendExpiredError';
  }
}

/** Thrown when a record does not satisfy its contract: nothing invalid is ever produced. */
export class ContractViolationError extends Error {
  constructor(
    readonly topic: string,
    readonly issues: string,
  ) {
    super(`record for ${topic} violates its contract: ${issues}`);
    this.name = 'ContractViolationError';
  }
}

/**
 * kafkajs has no linger: records queue here for at most `lingerMs` (or until `maxBatch`) and go
 * out in one `sendBatch` with acks=all from an idempotent producer. Each caller's promise settles
 * when its batch is acknowledged, so the gateway can answer 202 only after Kafka has the command.
 */
export class BatchingProducer {
  private producer: Producer;
  // After a failed batch the producer id is replaced before the next send (see renew()).
  private stale = false;
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | null = null;
  private inFlight = new Set<Promise<void>>();
  private readonly lingerMs: number;
  private readonly maxBatch: number;
  private connected = false;

  constructor(
    private readonly kafka: Kafka,
    private readonly options: BatchingProducerOptions,
  ) {
    this.lingerMs = options.lingerMs ?? 2;
    this.maxBatch = options.maxBatch ?? 500;
    this.producer = this.create();
  }

  private create(): Producer {
    return this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      transactionalId: this.options.transactionalId,
      retry: this.options.retry ?? DEFAULT_SEND_RETRY,
    });
  }

  /**
   * A batch that failed after its retries may still have been written (the broker appended it,
   * the answer was lost). kafkajs then rewinds the sequence numbers, and the next batch of the
   * same size would be taken by the broker for a duplicate of it and silently dropped. A fresh
   * producer (a new producer id) cannot collide with what the old one wrote.
   */
  private async renew(): Promise<void> {
    const old = this.producer;
    this.producer = this.create();
    void old.disconnect().catch(() => undefined);
    await this.producer.connect();
    this.stale = false;
  }

  async connect(): Promise<void> {
    await this.producer.connect();
    this.connected = true;
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** Validates and enqueues a record; resolves once Kafka acknowledged it (acks=all). */
  send<T>(record: OutgoingRecord<T>): Promise<void> {
    return this.sendEncoded(record.topic, this.encode(record), record.deadline);
  }

  /** Sends a record encoded earlier by {@link encode} (e.g. kept in an outbox). */
  sendEncoded(topic: string, message: Message, deadline?: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ topic, message, deadline, resolve, reject });
      this.flushSoon(this.queue.length >= this.maxBatch ? 0 : this.lingerMs);
    });
  }

  /** Encodes and validates without sending (for transactional batches built by the caller). */
  encode<T>(record: OutgoingRecord<T>): Message {
    const parsed = record.schema.safeParse(record.value);
    if (!parsed.success) {
      throw new ContractViolationError(
        record.topic,
        parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
      );
    }
    const partition =
      record.partition ??
      (record.key === null ? undefined : partitionFor(record.key, this.options.partitions(record.topic)));
    return { key: record.key, value: JSON.stringify(parsed.data), partition, headers: record.headers };
  }

  /** The underlying producer, for Kafka transactions (consume-process-produce). */
  get raw(): Producer {
    return this.producer;
  }

  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.drain();
    await Promise.allSettled([...this.inFlight]);
  }

  async disconnect(): Promise<void> {
    await this.flush();
    await this.producer.disconnect();
    this.connected = false;
  }

  private flushSoon(delay: number): void {
    if (delay === 0) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.drain();
      return;
    }
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.drain();
      }, delay);
    }
  }

  private drain(): void {
    // One sendBatch at a time keeps the idempotent producer's ordering guarantee.
    if (this.queue.length === 0 || this.inFlight.size > 0) return;
    const taken = this.queue.splice(0, this.maxBatch);
    const batch: Pending[] = [];
    const byTopic = new Map<string, Message[]>();
    const started = process.hrtime.bigint();
    const send = (async () => {
      if (this.stale && !this.options.transactionalId) await this.renew();
      // Checked last thing before kafkajs gets them: an expired record is never sent.
      const now = Date.now();
      for (const p of taken) {
        if (p.deadline !== undefined && p.deadline <= now) {
          p.reject(new SendExpiredError(p.topic));
          continue;
        }
        batch.push(p);
        const list = byTopic.get(p.topic);
        if (list) list.push(p.message);
        else byTopic.set(p.topic, [p.message]);
      }
      if (batch.length === 0) return;
      await this.producer.sendBatch({
        acks: -1,
        compression: CompressionTypes.None,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
    })()
      .then(
        () => {
          this.observe(byTopic, started, true);
          for (const p of batch) p.resolve();
        },
        (err: unknown) => {
          this.stale = true;
          this.observe(byTopic, started, false);
          // Before the split (renewal failed) nothing was sent: every record fails.
          for (const p of batch.length > 0 ? batch : taken) p.reject(err);
        },
      )
      .finally(() => {
        this.inFlight.delete(send);
        if (this.queue.length > 0) this.flushSoon(this.queue.length >= this.maxBatch ? 0 : this.lingerMs);
      });
    this.inFlight.add(send);
  }

  private observe(byTopic: Map<string, Message[]>, started: bigint, ok: boolean): void {
    if (!this.options.metrics) return;
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    for (const [topic, messages] of byTopic)
      this.options.metrics.observeSend(topic, seconds, messages.length, ok);
  }
}
