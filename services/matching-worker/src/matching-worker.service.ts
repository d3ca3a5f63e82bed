import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { Kafka, Message } from 'kafkajs';
import {
  executionSchema,
  TOPICS,
  type EngineEventMessage,
  type Execution,
  type OrderUpdate,
  type SequencedCommand,
} from '@trading/contracts';
import { EngineSnapshotsRepository } from '@trading/db';
import {
  deadLetterMessage,
  PartitionTransactions,
  type ConsumedRecord,
  type PartitionBatchContext,
  type RejectedRecord,
} from '@trading/kafka';
import type { EngineEvent } from '@trading/matching-engine';
import {
  BATCH_SIZE_BUCKETS,
  ENGINE_DURATION_BUCKETS_SECONDS,
  KAFKA_DURATION_BUCKETS_SECONDS,
  MetricsRegistry,
  PIPELINE_DURATION_BUCKETS_SECONDS,
} from '@trading/metrics';
import { KAFKA, MarketCatalogService } from '@trading/nest-common';
import type { MatchingWorkerConfig } from './matching-worker.config';
import { OrderUpdateRecords, type OrderUpdateRecord } from './order-update-records';
import { PartitionBook, resumePosition, type PartitionState } from './partition-book';

export const MATCHING_CONFIG = Symbol('MATCHING_CONFIG');
export const INPUT = TOPICS.ordersSequenced.name;

/**
 * Runs one engine per symbol over `orders.sequenced.v1` (MatchingWorkerController hands it each
 * partition batch from the SEQUENCED_CONSUMER transport, which leaves the commit to it). Output is
 * exactly once: per partition batch, the executions, the per-account order updates (one
 * `orders.updates.v2` record per destination partition) and the consumed offsets go out in one
 * Kafka transaction (a transactional producer per input partition, so a worker that takes a
 * partition over fences the one that had it). Downstream consumers read committed only. On
 * assignment a partition is restored from its latest snapshot and the input between the snapshot
 * and the committed offset is replayed without output.
 */
@Injectable()
export class MatchingWorkerService implements OnApplicationShutdown {
  private readonly logger = new Logger(MatchingWorkerService.name);
  private readonly books = new Map<number, PartitionBook>();
  // Offsets below this are replayed silently after a restore (their output is already committed).
  private readonly replayUntil = new Map<number, number>();
  // Where a partition was last sought back to; a batch that still starts beyond it is a real gap.
  private readonly gapSeeks = new Map<number, number>();
  private readonly transactions: PartitionTransactions;
  private readonly m;

  constructor(
    @Inject(KAFKA) kafka: Kafka,
    @Inject(MATCHING_CONFIG) private readonly config: MatchingWorkerConfig,
    private readonly snapshots: EngineSnapshotsRepository,
    private readonly markets: MarketCatalogService,
    metrics: MetricsRegistry,
  ) {
    this.transactions = new PartitionTransactions(
      kafka,
      config.MATCHING_GROUP_ID,
      INPUT,
      (outcome, seconds) => this.m.txn.observe({ outcome }, seconds),
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
      duplicates: metrics.counter(
        'matching_duplicate_commands_total',
        'Router re-sends dropped by (partition, offset)',
      ),
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.transactions.close();
  }

  /** A group join: what this worker owns now. */
  assigned(assignment: Record<string, number[]>): void {
    const partitions = assignment[INPUT] ?? [];
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

  /**
   * One partition batch: its valid commands in offset order and, in `ctx.rejected`, the ones that
   * failed their contract (dead-lettered in the batch's transaction). Throwing retries the batch;
   * `ctx.seek` leaves it unresolved.
   */
  async handle(records: ConsumedRecord<SequencedCommand>[], ctx: PartitionBatchContext): Promise<void> {
    const p = ctx.partition;
    await this.markets.ensureLoaded();
    // After an assignment or a rejoin the consumer starts at the committed offset; everything
    // below it has its output committed already.
    const first = Number(ctx.firstOffset);
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
      ctx.seek(resume.seekTo);
      return;
    }
    const replayUntil = this.replayUntil.get(p) ?? -1;
    const emittedAt = Date.now();
    const executions: { message: Message; record: Execution }[] = [];
    const updates = new OrderUpdateRecords(this.config.KAFKA_PARTITIONS);
    const deadLetters: Message[] = [];
    const lastExecutionOf = new Map<string, Execution>();
    const out: EngineEvent[] = [];
    const lastSeen = Number(ctx.lastOffset);
    const appliedBefore = book.lastOffset;
    let liveFrom = -1;
    let receivedAtMin = Number.MAX_SAFE_INTEGER;
    // Rejected records are skipped like applied ones (only the live ones are dead-lettered).
    for (const r of ctx.rejected) {
      const offset = Number(r.offset);
      if (offset <= appliedBefore || offset < replayUntil) continue;
      if (liveFrom < 0) liveFrom = offset;
      deadLetters.push(this.deadLetter(r, r.reason));
    }

    for (const { offset: at, value: cmd } of records) {
      const offset = Number(at);
      if (offset <= book.lastOffset) continue;
      const live = offset >= replayUntil;
      if (live && (liveFrom < 0 || offset < liveFrom)) liveFrom = offset;
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
        if (live)
          deadLetters.push(this.deadLetter(this.rejectedOf(p, offset, cmd), `unknown market ${cmd.symbol}`));
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
      executions.push({ message: { key: cmd.symbol, partition: p, value: '' }, record });
      lastExecutionOf.set(cmd.symbol, record);
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

    // Everything the batch looked at is behind the book, rejected records included.
    if (lastSeen > book.lastOffset) book.lastOffset = lastSeen;
    // The book after the batch rides on the last record of each symbol.
    for (const [symbol, record] of lastExecutionOf) {
      const engine = book.engines.get(symbol)!;
      const d = engine.depth(this.config.DEPTH_LEVELS);
      record.depth = {
        seq: engine.seq,
        bids: d.bids.map((l) => [l.price, l.qty, l.orders] as [number, number, number]),
        asks: d.asks.map((l) => [l.price, l.qty, l.orders] as [number, number, number]),
      };
      this.m.resting.set({ symbol }, engine.restingOrderCount);
      this.m.depth.set({ symbol, side: 'bid' }, d.bids.length);
      this.m.depth.set({ symbol, side: 'ask' }, d.asks.length);
    }

    // Every record produced is checked against its contract (updates and dead letters in theirs).
    for (const e of executions) e.message.value = JSON.stringify(executionSchema.parse(e.record));

    if (liveFrom >= 0 && lastSeen >= liveFrom) {
      const updateRecords = await this.commit(
        p,
        lastSeen,
        executions.map((e) => e.message),
        updates,
        deadLetters,
      );
      this.m.batch.observe(lastSeen - liveFrom + 1);
      for (const r of updateRecords) this.m.updatesPerRecord.observe(r.updates);
      if (receivedAtMin !== Number.MAX_SAFE_INTEGER)
        this.m.emitted.observe((Date.now() - receivedAtMin) / 1000);
    }
    if (lastSeen + 1 >= replayUntil) this.replayUntil.delete(p);
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

  private deadLetter(r: Omit<RejectedRecord, 'reason'>, reason: string): Message {
    return deadLetterMessage(r, reason, this.config.MATCHING_GROUP_ID);
  }

  private rejectedOf(
    partition: number,
    offset: number,
    cmd: SequencedCommand,
  ): Omit<RejectedRecord, 'reason'> {
    return { topic: INPUT, partition, offset: String(offset), key: cmd.symbol, value: JSON.stringify(cmd) };
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
