import { Catch, type RpcExceptionFilter } from '@nestjs/common';
import { type CustomTransportStrategy, type MessageHandler, Server } from '@nestjs/microservices';
import type { Consumer, ConsumerConfig, EachBatchPayload, Kafka, PartitionAssigner } from 'kafkajs';
import { isObservable, lastValueFrom, type Observable, throwError } from 'rxjs';
import type { z } from 'zod';
import { type BackoffOptions, describeBatchRetry, retryBatch } from './batch-retry';
import {
  type ConsumedRecord,
  type ConsumerMetrics,
  decodeMessage,
  type DeadLetterSink,
} from './consumed-record';
import type { FetchOptions, PatchedConsumerConfig } from './kafka-client';

/** The pattern of the event a controller receives on each group join: `Record<topic, partitions[]>`. */
export const PARTITIONS_ASSIGNED = 'kafka.partitions.assigned';

/**
 * Where a consumer's position is committed:
 * - `consumer`: the consumer group's commit, after the handler resolves (at least once);
 * - `transaction`: the handler commits it itself in a Kafka transaction with its output
 *   (PartitionTransactions.commit); the transport only moves the in-memory position;
 * - `store`: the handler commits it in its own store with its writes; on the first batch of a
 *   topic-partition after an assignment (or a failed batch) the transport loads the stored
 *   position and seeks there, and never hands the handler a record below it.
 */
export type OffsetCommit =
  | { kind: 'consumer' }
  | { kind: 'transaction' }
  | { kind: 'store'; load: (topic: string, partition: number) => Promise<number | null> };

/** A record that failed its contract, as the handler sees it when it dead-letters them itself. */
export interface RejectedRecord {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
  reason: string;
}

export interface PartitionConsumerOptions {
  /** For logs: `<name> consumer`. */
  name: string;
  groupId: string;
  /** Every consumed topic with the contract its records are validated against. */
  topics: Record<string, z.ZodType<unknown>>;
  commit: OffsetCommit;
  /**
   * Where invalid records go: published at once through a sink (counted as `contract`), or
   * handed to the handler in `ctx.rejected` (to send inside its own transaction).
   */
  deadLetters: DeadLetterSink | 'handler';
  metrics?: ConsumerMetrics;
  readUncommitted?: boolean;
  fromBeginning?: boolean;
  fetch?: FetchOptions;
  rebalanceTimeout?: number;
  partitionAssigners?: PartitionAssigner[];
  /** Partition batches handled at once (kafkajs partitionsConsumedConcurrently). */
  concurrency?: number;
  /** Batches of one partition number run one at a time whatever their topic (co-partitioned topics). */
  lockPartitions?: boolean;
  backoff?: BackoffOptions;
  /** Logs (warn) each failed attempt and each connect failure; Nest's Logger fits. */
  logger?: { warn(message: string): void; log(message: string): void };
}

/** What a handler gets with one partition batch. */
export class PartitionBatchContext {
  /** Set by seek(): the batch is not resolved, the consumer fetches from there. */
  sought = false;

  constructor(
    readonly topic: string,
    readonly partition: number,
    /** First offset of the fetched batch, before any skip. */
    readonly firstOffset: string,
    /** First offset the batch covers: the first not already applied (store mode), rejected or not. */
    readonly startOffset: string,
    /** Last offset looked at: the batch covers everything up to it (rejected records included). */
    readonly lastOffset: string,
    /** Invalid records of the batch when the handler dead-letters them itself, else empty. */
    readonly rejected: readonly RejectedRecord[],
    private readonly payload: EachBatchPayload,
    private readonly consumer: Consumer,
  ) {}

  heartbeat(): Promise<void> {
    return this.payload.heartbeat();
  }

  isRunning(): boolean {
    return this.payload.isRunning();
  }

  isStale(): boolean {
    return this.payload.isStale();
  }

  offsetLag(): number {
    return Number(this.payload.batch.offsetLag());
  }

  /** Moves this partition's position; the batch in hand is not resolved. */
  seek(offset: number | string): void {
    this.sought = true;
    this.consumer.seek({ topic: this.topic, partition: this.partition, offset: String(offset) });
  }
}

/** A handler of one partition batch: `@EventPattern(topic) handle(@Payload() records, @Ctx() ctx)`. */
export type PartitionBatchHandler<T> = (
  records: ConsumedRecord<T>[],
  ctx: PartitionBatchContext,
) => Promise<unknown>;

/**
 * Hands the handler's own error to the transport (the default RPC filter would replace it with
 * "Internal server error" and log it): `@UseFilters(PartitionBatchErrors)` on consuming controllers.
 */
@Catch()
export class PartitionBatchErrors implements RpcExceptionFilter {
  catch(exception: unknown): Observable<never> {
    return throwError(() => exception);
  }
}

/**
 * The platform's one Kafka consumer, as a NestJS custom transport (connect it with
 * `app.connectMicroservice({ strategy })`). It reads partition batches, validates every record
 * against its topic's contract, dead-letters the invalid ones, and calls the controller method
 * decorated with `@EventPattern(topic)` once per partition batch with the valid records, in
 * offset order. A failing handler is retried in place with a bounded backoff (the partition
 * waits, its position stays). Where the position is committed is the service's choice
 * (OffsetCommit). Nothing is allocated per record beyond the decoded record itself.
 */
export class PartitionConsumer extends Server implements CustomTransportStrategy {
  private readonly consumer: Consumer;
  private readonly handlers = new Map<string, MessageHandler>();
  /** Store mode: next offset per `topic\0partition`, loaded once per ownership. */
  private readonly positions = new Map<string, number>();
  private readonly locks = new Map<number, Promise<void>>();
  private stopping = false;
  private running = false;

  constructor(
    kafka: Kafka,
    private readonly options: PartitionConsumerOptions,
  ) {
    super();
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      readUncommitted: options.readUncommitted ?? false,
      partitionAssigners: options.partitionAssigners,
      sessionTimeout: 10_000,
      heartbeatInterval: 1000,
      rebalanceTimeout: options.rebalanceTimeout ?? 15_000,
      maxWaitTimeInMs: options.fetch?.maxWaitTimeInMs ?? 50,
      minBytes: options.fetch?.minBytes ?? 1,
      idleMaxWaitTimeInMs: options.fetch?.idleMaxWaitTimeInMs,
      allowAutoTopicCreation: false,
    } satisfies PatchedConsumerConfig as ConsumerConfig);
    this.consumer.on(this.consumer.events.GROUP_JOIN, (e) => this.onAssignment(e.payload.memberAssignment));
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** Starts consuming in the background (retrying the connection): HTTP and readiness stay up meanwhile. */
  listen(callback: () => void): void {
    for (const topic of Object.keys(this.options.topics)) {
      const handler = this.getHandlerByPattern(topic);
      if (!handler) throw new Error(`${this.options.name}: no @EventPattern('${topic}') handler`);
      this.handlers.set(topic, handler);
    }
    void this.connect();
    callback();
  }

  /** Stops fetching, lets the batches in hand finish (and commit), then leaves the group. */
  async close(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.running = false;
    await this.consumer.disconnect().catch(() => undefined);
  }

  /** The same as close(): consumers stop before the pools and producers they use. */
  async onModuleDestroy(): Promise<void> {
    await this.close();
  }

  on(): never {
    throw new Error('PartitionConsumer has no events: handle @EventPattern(PARTITIONS_ASSIGNED)');
  }

  unwrap<T>(): T {
    return this.consumer as T;
  }

  /** One partition batch, as kafkajs's eachBatch gives it (exposed for tests). */
  async onBatch(payload: EachBatchPayload): Promise<void> {
    if (payload.batch.messages.length === 0) return;
    if (!this.options.lockPartitions) return this.process(payload);
    // Batches of one partition (from either topic) run one at a time: they share its state.
    const p = payload.batch.partition;
    const prev = this.locks.get(p) ?? Promise.resolve();
    const run = prev.then(
      () => this.process(payload),
      () => this.process(payload),
    );
    const tail = run.catch(() => undefined);
    this.locks.set(p, tail);
    try {
      await run;
    } finally {
      if (this.locks.get(p) === tail) this.locks.delete(p);
    }
  }

  private async connect(): Promise<void> {
    for (let attempt = 0; !this.stopping; attempt++) {
      try {
        await this.consumer.connect();
        await this.consumer.subscribe({
          topics: Object.keys(this.options.topics),
          fromBeginning: this.options.fromBeginning ?? true,
        });
        await this.consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: this.options.concurrency ?? 4,
          eachBatch: (payload) => this.onBatch(payload),
        });
        if (this.stopping) {
          // Closed while connecting: leave the group at once.
          await this.consumer.disconnect().catch(() => undefined);
          return;
        }
        this.running = true;
        if (attempt > 0)
          this.options.logger?.log(`${this.options.name} consumer connected after ${attempt} retries`);
        return;
      } catch (err) {
        this.options.logger?.warn(
          `${this.options.name} consumer not reachable (${err instanceof Error ? err.message : String(err)}), retrying`,
        );
        await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** Math.min(attempt, 5), 3000)));
      }
    }
  }

  private onAssignment(assignment: Record<string, number[]>): void {
    // A rejoin moves every position back to the committed one: stored positions are read again.
    this.positions.clear();
    const handler = this.getHandlerByPattern(PARTITIONS_ASSIGNED);
    if (handler) void this.invoke(handler, assignment, undefined).catch(() => undefined);
  }

  private forget(partition: number): void {
    for (const topic of Object.keys(this.options.topics)) this.positions.delete(`${topic}\u0000${partition}`);
  }

  private async process(payload: EachBatchPayload): Promise<void> {
    const { batch, isRunning, isStale, heartbeat, resolveOffset } = payload;
    const { topic, partition } = batch;
    const commit = this.options.commit;
    const schema = this.options.topics[topic];
    const handler = this.handlers.get(topic)!;
    const key = `${topic}\u0000${partition}`;
    const sink = this.options.deadLetters === 'handler' ? null : this.options.deadLetters;
    let deadLettered = -1;
    const done: { lastSeen?: string; size: number } = { size: 0 };

    const attempt = async (): Promise<void> => {
      let next = -1;
      if (commit.kind === 'store') {
        const known = this.positions.get(key);
        if (known === undefined) {
          // Once per ownership: start exactly where the service's store says this topic-partition stands.
          const first = Number(batch.messages[0].offset);
          const stored = await commit.load(topic, partition);
          this.positions.set(key, stored ?? first);
          if (stored !== null && stored !== first) {
            this.consumer.seek({ topic, partition, offset: String(stored) });
            return;
          }
          next = stored ?? first;
        } else next = known;
      }
      const valid: ConsumedRecord<unknown>[] = [];
      const rejected: RejectedRecord[] = [];
      let lastSeen: string | undefined;
      let start: string | undefined;
      let size = 0;
      for (const message of batch.messages) {
        if (!isRunning() || isStale()) break;
        lastSeen = message.offset;
        // Offsets have gaps (transaction markers): only "already applied" is checked.
        if (next >= 0 && Number(message.offset) < next) continue;
        if (size++ === 0) start = message.offset;
        const decoded = decodeMessage(schema, message);
        const recordKey = message.key ? message.key.toString('utf8') : null;
        if (decoded.ok) {
          valid.push({
            topic,
            partition,
            offset: message.offset,
            key: recordKey,
            value: decoded.value,
            headers: message.headers ?? {},
            timestamp: message.timestamp,
          });
          continue;
        }
        const r: RejectedRecord = {
          topic,
          partition,
          offset: message.offset,
          key: recordKey,
          value: message.value ? message.value.toString('utf8') : null,
          reason: decoded.reason,
        };
        if (!sink) rejected.push(r);
        else if (Number(message.offset) > deadLettered) {
          // Once per record, however often the batch is retried.
          await sink.deadLetter(r);
          deadLettered = Number(message.offset);
          this.options.metrics?.deadLettered(topic, 'contract');
        }
      }
      if (lastSeen === undefined) return;
      if (size > 0 && (valid.length > 0 || commit.kind !== 'consumer')) {
        const ctx = new PartitionBatchContext(
          topic,
          partition,
          batch.messages[0].offset,
          start ?? lastSeen,
          lastSeen,
          rejected,
          payload,
          this.consumer,
        );
        try {
          await this.invoke(handler, valid, ctx);
        } catch (err) {
          // The service's state may be ahead of its store: its position is read again before the retry.
          if (commit.kind === 'store') this.forget(partition);
          throw err;
        }
        if (ctx.sought) return;
      }
      if (commit.kind === 'store') this.positions.set(key, Number(lastSeen) + 1);
      done.lastSeen = lastSeen;
      done.size = size;
    };

    await retryBatch(attempt, payload, {
      backoff: this.options.backoff,
      onRetry: (n, delay, err) => {
        this.options.metrics?.retried?.(topic);
        this.options.logger?.warn(describeBatchRetry(topic, partition, n, delay, err));
      },
    });
    const { lastSeen, size } = done;
    if (lastSeen === undefined) return;
    // Only what was looked at is resolved: a stop mid-batch re-delivers the rest.
    resolveOffset(lastSeen);
    // With autoCommit off, the no-argument form never commits: pass the resolved offsets.
    if (commit.kind === 'consumer') await payload.commitOffsetsIfNecessary(payload.uncommittedOffsets());
    await heartbeat();
    if (size > 0) this.options.metrics?.observeBatch(topic, partition, size, Number(batch.offsetLag()));
  }

  /** Calls a Nest-wrapped handler and waits for it (its result may be an Observable). */
  private async invoke(handler: MessageHandler, data: unknown, ctx: unknown): Promise<void> {
    const result: unknown = await handler(data, ctx);
    if (isObservable(result)) await lastValueFrom(result, { defaultValue: undefined });
  }
}
