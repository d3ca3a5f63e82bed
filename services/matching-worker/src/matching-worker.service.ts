import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage, Message } from 'kafkajs';
import {
  executionSchema,
  sequencedCommandSchema,
  TOPICS,
  type EngineEventMessage,
  type Execution,
  type OrderUpdate,
} from '@trading/contracts';
import { EngineSnapshotsRepository } from '@trading/db';
import {
  describeBatchRetry,
  deadLetterMessage,
  decodeMessage,
  fetchOptions,
  PartitionTransactions,
  retryBatch,
} from '@trading/kafka';
import type { EngineEvent } from '@trading/matching-engine';
import {
  BATCH_SIZE_BUCKETS,
  consumerRetriesCounter,
  ENGINE_DURATION_BUCKETS_SECONDS,
  KAFKA_DURATION_BUCKETS_SECONDS,
  MetricsRegistry,
  PIPELINE_DURATION_BUCKETS_SECONDS,
} from '@trading/metrics';
import { DatabaseService, KAFKA, MarketCatalogService, retryUntilConnected } from '@trading/nest-common';
import type { MatchingWorkerConfig } from './matching-worker.config';
import { OrderUpdateRecords, type OrderUpdateRecord } from './order-update-records';
import { PartitionBook, resumePosition, type PartitionState } from './partition-book';

export const MATCHING_CONFIG = Symbol('MATCHING_CONFIG');
const INPUT = TOPICS.ordersSequenced.name;

/**
 * Consumes `orders.sequenced.v1` in one consumer group and runs one engine per symbol. Output is
 * exactly once: per partition batch, the executions, the per-account order updates (one
 * `orders.updates.v2` record per destination partition) and the consumed offsets go out in one
 * Kafka transaction (a transactional producer per input partition, so a worker that takes a
 * partition over fences the one that had it). Downstream consumers read committed only. On
 * assignment a partition is restored from its latest snapshot and the input between the snapshot
 * and the committed offset is replayed without output.
 */
@Injectable()
export class MatchingWorkerService implements OnModuleInit, OnModuleDestroy, OnApplicationShutdown {
  private readonly logger = new Logger(MatchingWorkerService.name);
  private readonly consumer: Consumer;
  private readonly books = new Map<number, PartitionBook>();
  // Offsets below this are replayed silently after a restore (their output is already committed).
  private readonly replayUntil = new Map<number, number>();
  // Where a partition was last sought back to; a batch that still starts beyond it is a real gap.
  private readonly gapSeeks = new Map<number, number>();
  private readonly transactions: PartitionTransactions;
  private readonly snapshots: EngineSnapshotsRepository;
  private stopping = false;
  private running = false;
  private readonly m;

  constructor(
    @Inject(KAFKA) kafka: Kafka,
    @Inject(MATCHING_CONFIG) private readonly config: MatchingWorkerConfig,
    db: DatabaseService,
    private readonly markets: MarketCatalogService,
    metrics: MetricsRegistry,
  ) {
    this.snapshots = new EngineSnapshotsRepository(db.dataSource);
    this.consumer = kafka.consumer({
      groupId: config.MATCHING_GROUP_ID,
      readUncommitted: false,
      sessionTimeout: 10_000,
      heartbeatInterval: 1000,
      rebalanceTimeout: 20_000,
      ...fetchOptions(config),
      allowAutoTopicCreation: false,
    });
    this.transactions = new PartitionTransactions(
      kafka,
      config.MATCHING_GROUP_ID,
      INPUT,
      (outcome, seconds) => this.m.txn.observe({ outcome }, seconds),
    );
    this.consumer.on(this.consumer.events.GROUP_JOIN, (e) =>
      this.onAssignment(e.payload.memberAssignment[INPUT] ?? []),
    );
    this.m = {
      command: metrics.histogram(
        'engine_command_duration_seconds',
        'Engine time per command',
        ENGINE_DURATION_BUCKETS_SECONDS,
        ['symbol'],
      ),
      commands: metrics.counter('engine_commands_total', 'Commands applied by the engine', [
        'symbol',
        'mode',
      ]),
      trades: metrics.counter('engine_trades_total', 'Trades produced', ['symbol']),
      resting: metrics.gauge('engine_resting_orders', 'Resting orders in the book', ['symbol']),
      depth: metrics.gauge('engine_book_levels', 'Price levels in the book (top levels tracked)', [
        'symbol',
        'side',
      ]),
      txn: metrics.histogram(
        'matching_transaction_duration_seconds',
        'Kafka transaction time per batch',
        KAFKA_DURATION_BUCKETS_SECONDS,
        ['outcome'],
      ),
      batch: metrics.histogram('matching_batch_size', 'Commands per partition batch', BATCH_SIZE_BUCKETS),
      updatesPerRecord: metrics.histogram(
        'matching_order_updates_per_record',
        'Order updates per orders.updates.v2 record (one record per destination partition and batch)',
        BATCH_SIZE_BUCKETS,
      ),
      lag: metrics.gauge('kafka_consumer_lag_records', 'Records behind the high watermark', [
        'topic',
        'partition',
        'group',
      ]),
      emitted: metrics.histogram(
        'pipeline_execution_emitted_seconds',
        'Gateway receipt to execution committed',
        PIPELINE_DURATION_BUCKETS_SECONDS,
      ),
      partitions: metrics.gauge('matching_assigned_partitions', 'Input partitions owned by this worker'),
      owned: metrics.gauge('matching_partition_owned', '1 for each input partition this worker owns', [
        'partition',
      ]),
      restores: metrics.counter('matching_restores_total', 'Partition restores', ['source']),
      retries: consumerRetriesCounter(metrics),
      duplicates: metrics.counter(
        'matching_duplicate_commands_total',
        'Router re-sends dropped by (partition, offset)',
      ),
    };
  }

  get isRunning(): boolean {
    return this.running;
  }

  onModuleInit(): void {
    void retryUntilConnected(
      'matching consumer',
      async () => {
        await this.consumer.connect();
        await this.consumer.subscribe({ topic: INPUT, fromBeginning: true });
        await this.consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: 3,
          // A failing batch (transaction or database down) is retried in place with a backoff:
          // the partition waits and resumes by itself when the dependency is back.
          eachBatch: (payload) =>
            retryBatch(() => this.onBatch(payload), payload, {
              onRetry: (attempt, delay, err) => {
                this.m.retries.inc({ topic: payload.batch.topic });
                this.logger.warn(describeBatchRetry(INPUT, payload.batch.partition, attempt, delay, err));
              },
            }),
        });
        this.running = true;
      },
      this.logger,
      () => this.stopping,
    );
  }

  async onModuleDestroy(): Promise<void> {
    // Stop consuming first: the batch in hand finishes its transaction, then the group is left.
    this.stopping = true;
    await this.consumer.disconnect().catch(() => undefined);
    this.running = false;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.transactions.close();
  }

  private onAssignment(partitions: number[]): void {
    const owned = new Set(partitions);
    for (const p of [...this.books.keys()]) {
      if (!owned.has(p)) {
        this.books.delete(p);
        this.replayUntil.delete(p);
      }
    }
    // A rejoin moves every position back to the committed offset: earlier seeks no longer hold.
    this.gapSeeks.clear();
    this.transactions.retain(owned);
    this.m.partitions.set(owned.size);
    this.m.owned.reset();
    for (const p of owned) this.m.owned.set({ partition: String(p) }, 1);
    this.logger.log(`assigned partitions [${partitions.join(',')}]`);
  }

  private async restore(partition: number): Promise<PartitionBook> {
    const row = await this.snapshots.load(partition);
    if (!row) {
      this.m.restores.inc({ source: 'empty' });
      return new PartitionBook(partition);
    }
    this.m.restores.inc({ source: 'snapshot' });
    const book = PartitionBook.restore(partition, row.state as PartitionState, row.inputOffset);
    if (book.stateHash() !== row.stateHash)
      throw new Error(`snapshot of partition ${partition} fails its state hash`);
    return book;
  }

  private async onBatch({
    batch,
    resolveOffset,
    heartbeat,
    isRunning,
    isStale,
  }: EachBatchPayload): Promise<void> {
    const p = batch.partition;
    if (batch.messages.length === 0) return;
    await this.markets.ensureLoaded();
    // After an assignment or a rejoin the consumer starts at the committed offset; everything
    // below it has its output committed already.
    const first = Number(batch.messages[0].offset);
    let book = this.books.get(p);
    if (!book) {
      book = await this.restore(p);
      this.books.set(p, book);
      if (book.lastOffset >= first)
        // The committed offset lags a transaction still being completed (snapshots are taken
        // after commit only): what the snapshot holds is skipped below, not applied twice.
        this.logger.warn(
          `partition ${p}: snapshot at ${book.lastOffset} is ahead of the committed offset ${first}`,
        );
    }
    const resume = resumePosition(book.lastOffset, first, this.replayUntil.get(p), this.gapSeeks.get(p));
    if (resume) {
      // The book is behind the consumer's position: a restore from a snapshot, or a rejoin while
      // a silent replay was under way (the position went back to the committed offset, past the
      // replay). Rebuild the state the committed output reflects, without output, then go on live.
      this.replayUntil.set(p, resume.replayUntil);
      this.gapSeeks.set(p, resume.seekTo);
      this.logger.log(
        `partition ${p}: replaying offsets ${resume.seekTo}..${resume.replayUntil - 1} silently`,
      );
      this.consumer.seek({ topic: INPUT, partition: p, offset: String(resume.seekTo) });
      return;
    }
    const replayUntil = this.replayUntil.get(p) ?? -1;
    const emittedAt = Date.now();
    const executions: Message[] = [];
    const updates = new OrderUpdateRecords(this.config.KAFKA_PARTITIONS);
    const deadLetters: Message[] = [];
    const lastExecutionOf = new Map<string, { message: Message; record: Execution }>();
    const out: EngineEvent[] = [];
    let lastSeen = -1;
    let liveFrom = -1;
    let receivedAtMin = Number.MAX_SAFE_INTEGER;

    for (const message of batch.messages) {
      if (!isRunning() || isStale()) break;
      const offset = Number(message.offset);
      lastSeen = offset;
      if (offset <= book.lastOffset) continue;
      const live = offset >= replayUntil;
      if (live && liveFrom < 0) liveFrom = offset;
      const decoded = decodeMessage(sequencedCommandSchema, message);
      if (!decoded.ok) {
        book.lastOffset = offset;
        if (live) deadLetters.push(this.deadLetter(p, message, decoded.reason));
        continue;
      }
      const cmd = decoded.value;
      if (!book.firstSeen(cmd.source)) {
        book.lastOffset = offset;
        this.m.duplicates.inc();
        continue;
      }
      let engine = book.engineFor(cmd.symbol, () => this.markets.get(cmd.symbol));
      if (!engine) {
        // Throws when the catalog cannot be read: the batch is retried, the command is never
        // dropped for a market that exists (the router accepted it against the same catalog).
        await this.markets.refresh();
        engine = book.engineFor(cmd.symbol, () => this.markets.get(cmd.symbol));
      }
      book.lastOffset = offset;
      if (!engine) {
        if (live) deadLetters.push(this.deadLetter(p, message, `unknown market ${cmd.symbol}`));
        continue;
      }
      out.length = 0;
      const started = process.hrtime.bigint();
      engine.process({ ...cmd.command, inputOffset: offset }, out);
      this.m.command.observe({ symbol: cmd.symbol }, Number(process.hrtime.bigint() - started) / 1e9);
      book.commandsSinceSnapshot++;
      this.m.commands.inc({ symbol: cmd.symbol, mode: live ? 'live' : 'replay' });
      if (!live || out.length === 0) continue;

      receivedAtMin = Math.min(receivedAtMin, cmd.receivedAt);
      const record: Execution = {
        symbol: cmd.symbol,
        inputPartition: p,
        inputOffset: offset,
        receivedAt: cmd.receivedAt,
        emittedAt,
        events: out.map((e) => ({ ...e })),
      };
      const execMessage: Message = { key: cmd.symbol, partition: p, value: '' };
      executions.push(execMessage);
      lastExecutionOf.set(cmd.symbol, { message: execMessage, record });
      execMessage.value = JSON.stringify(record);
      for (const e of record.events) {
        if (e.type === 'trade') {
          this.m.trades.inc({ symbol: cmd.symbol });
          updates.add(update(cmd.symbol, e.makerAccountId, e.makerOrderId, e, cmd.receivedAt, emittedAt));
          updates.add(update(cmd.symbol, e.takerAccountId, e.takerOrderId, e, cmd.receivedAt, emittedAt));
        } else {
          updates.add(
            update(
              cmd.symbol,
              e.accountId || cmd.accountId,
              e.orderId || orderIdOf(cmd.command),
              e,
              cmd.receivedAt,
              emittedAt,
            ),
          );
        }
      }
    }

    // The book after the batch rides on the last record of each symbol.
    for (const [symbol, { message, record }] of lastExecutionOf) {
      const engine = book.engines.get(symbol)!;
      const d = engine.depth(this.config.DEPTH_LEVELS);
      record.depth = {
        seq: engine.seq,
        bids: d.bids.map((l) => [l.price, l.qty, l.orders] as [number, number, number]),
        asks: d.asks.map((l) => [l.price, l.qty, l.orders] as [number, number, number]),
      };
      message.value = JSON.stringify(executionSchema.parse(record));
      this.m.resting.set({ symbol }, engine.restingOrderCount);
      this.m.depth.set({ symbol, side: 'bid' }, d.bids.length);
      this.m.depth.set({ symbol, side: 'ask' }, d.asks.length);
    }

    if (lastSeen < 0) return;
    if (liveFrom >= 0 && lastSeen >= liveFrom) {
      const updateRecords = await this.commit(p, lastSeen, executions, updates, deadLetters);
      this.m.batch.observe(lastSeen - liveFrom + 1);
      for (const r of updateRecords) this.m.updatesPerRecord.observe(r.updates);
      if (receivedAtMin !== Number.MAX_SAFE_INTEGER)
        this.m.emitted.observe((Date.now() - receivedAtMin) / 1000);
    }
    if (lastSeen + 1 >= replayUntil) this.replayUntil.delete(p);
    resolveOffset(String(lastSeen));
    await heartbeat();
    this.m.lag.set(
      { topic: INPUT, partition: String(p), group: this.config.MATCHING_GROUP_ID },
      Number(batch.offsetLag()),
    );
    await this.maybeSnapshot(book);
  }

  private async commit(
    p: number,
    lastOffset: number,
    executions: Message[],
    updates: OrderUpdateRecords,
    deadLetters: Message[],
  ): Promise<OrderUpdateRecord[]> {
    try {
      const records = updates.records();
      await this.transactions.commit(p, lastOffset + 1, [
        { topic: TOPICS.executions.name, messages: executions },
        { topic: TOPICS.orderUpdates.name, messages: records.map((r) => r.message) },
        { topic: TOPICS.deadLetter.name, messages: deadLetters },
      ]);
      return records;
    } catch (err) {
      // The engines already moved past what was aborted: rebuild from snapshot + replay.
      this.books.delete(p);
      this.replayUntil.delete(p);
      this.gapSeeks.delete(p);
      throw err;
    }
  }

  private async maybeSnapshot(book: PartitionBook): Promise<void> {
    const due =
      book.commandsSinceSnapshot >= this.config.SNAPSHOT_EVERY_COMMANDS ||
      (book.commandsSinceSnapshot > 0 &&
        Date.now() - book.lastSnapshotAt >= this.config.SNAPSHOT_INTERVAL_MS);
    if (!due || this.replayUntil.has(book.partition)) return;
    try {
      // Only committed state is snapshotted: this runs after the batch's transaction.
      await this.snapshots.save({
        inputPartition: book.partition,
        inputOffset: book.lastOffset,
        state: book.snapshot(),
        stateHash: book.stateHash(),
      });
      book.commandsSinceSnapshot = 0;
      book.lastSnapshotAt = Date.now();
    } catch (err) {
      this.logger.warn(`snapshot of partition ${book.partition} failed: ${(err as Error).message}`);
    }
  }

  private deadLetter(partition: number, message: KafkaMessage, reason: string): Message {
    return deadLetterMessage(INPUT, partition, message, reason, this.config.MATCHING_GROUP_ID);
  }

  /** For tests and operators: a hash of every partition this worker owns. */
  stateHashes(): Record<number, number> {
    return Object.fromEntries([...this.books].map(([p, b]) => [p, b.stateHash()]));
  }
}

function update(
  symbol: string,
  accountId: string,
  orderId: string,
  event: EngineEventMessage,
  receivedAt: number,
  emittedAt: number,
): OrderUpdate {
  return { accountId, orderId, symbol, seq: event.seq, receivedAt, emittedAt, event };
}

function orderIdOf(command: { orderId: string }): string {
  return command.orderId;
}
