import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage, Message } from 'kafkajs';
import {
  orderCommandSchema,
  sequencedCommandSchema,
  TOPICS,
  type OrderCommand,
  type PlaceOrderCommand,
  type SequencedCommand,
} from '@trading/contracts';
import { OrdersRepository, type NewOrderRow } from '@trading/db';
import { deadLetterMessage, decodeMessage, PartitionTransactions, partitionFor } from '@trading/kafka';
import { BATCH_SIZE_BUCKETS, DB_DURATION_BUCKETS_SECONDS, KAFKA_DURATION_BUCKETS_SECONDS, MetricsRegistry } from '@trading/metrics';
import { DatabaseService, KAFKA, MarketCatalogService, retryUntilConnected } from '@trading/nest-common';
import { checkMarketRules, type RouterRejectReason } from './market-rules';
import type { OrderRouterConfig } from './order-router.config';
import { OrderStreamPublisher, type OrderStreamUpdate } from './order-stream.publisher';

export const ROUTER_CONFIG = Symbol('ROUTER_CONFIG');
const INPUT = TOPICS.orderCommands.name;

interface Rejection {
  accountId: string;
  update: OrderStreamUpdate;
}

/**
 * Consumes `orders.commands.v1` (keyed by account, so one account's commands stay in order),
 * re-checks the market rules, records each new order, and routes accepted commands to their
 * symbol's partition of `orders.sequenced.v1`. The routed commands and the consumed offset go
 * out in one Kafka transaction; order rows are written before it (idempotently), so a crash in
 * between replays the batch without losing or duplicating an order.
 */
@Injectable()
export class CommandRouterService implements OnModuleInit, OnModuleDestroy, OnApplicationShutdown {
  private readonly logger = new Logger(CommandRouterService.name);
  private readonly consumer: Consumer;
  private readonly transactions: PartitionTransactions;
  private readonly orders: OrdersRepository;
  private stopping = false;
  private readonly m;

  constructor(
    @Inject(KAFKA) kafka: Kafka,
    @Inject(ROUTER_CONFIG) private readonly config: OrderRouterConfig,
    db: DatabaseService,
    private readonly markets: MarketCatalogService,
    private readonly stream: OrderStreamPublisher,
    metrics: MetricsRegistry,
  ) {
    this.orders = new OrdersRepository(db.dataSource);
    this.consumer = kafka.consumer({
      groupId: config.ORDER_ROUTER_GROUP_ID,
      sessionTimeout: 10_000,
      heartbeatInterval: 1000,
      rebalanceTimeout: 20_000,
      maxWaitTimeInMs: 20,
      allowAutoTopicCreation: false,
    });
    this.m = {
      routed: metrics.counter('router_commands_routed_total', 'Commands routed to matching', ['kind']),
      rejected: metrics.counter('router_commands_rejected_total', 'Commands refused by the router', ['reason']),
      batch: metrics.histogram('router_command_batch_size', 'Commands per partition batch', BATCH_SIZE_BUCKETS),
      db: metrics.histogram('db_write_duration_seconds', 'Batched database write time', DB_DURATION_BUCKETS_SECONDS, ['table']),
      dbRows: metrics.histogram('db_write_batch_size', 'Rows per batched database write', BATCH_SIZE_BUCKETS, ['table']),
      dbErrors: metrics.counter('db_write_errors_total', 'Failed batched database writes', ['table']),
      txn: metrics.histogram('router_transaction_duration_seconds', 'Kafka transaction time per batch', KAFKA_DURATION_BUCKETS_SECONDS, ['outcome']),
      lag: metrics.gauge('kafka_consumer_lag_records', 'Records behind the high watermark', ['topic', 'partition', 'group']),
    };
    this.transactions = new PartitionTransactions(kafka, config.ORDER_ROUTER_GROUP_ID, INPUT, (outcome, s) => this.m.txn.observe({ outcome }, s));
    this.consumer.on(this.consumer.events.GROUP_JOIN, (e) => this.transactions.retain(new Set(e.payload.memberAssignment[INPUT] ?? [])));
  }

  onModuleInit(): void {
    void retryUntilConnected(
      'command consumer',
      async () => {
        await this.consumer.connect();
        await this.consumer.subscribe({ topic: INPUT, fromBeginning: true });
        await this.consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: 3,
          eachBatch: (payload) => this.onBatch(payload),
        });
      },
      this.logger,
      () => this.stopping,
    );
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    await this.consumer.disconnect().catch(() => undefined);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.transactions.close();
  }

  private async onBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    if (batch.messages.length === 0) return;
    if (!this.markets.isLoaded) await this.markets.refresh();
    const commands: { message: KafkaMessage; cmd: OrderCommand }[] = [];
    const deadLetters: Message[] = [];
    let lastSeen = -1;
    for (const message of batch.messages) {
      if (!isRunning() || isStale()) break;
      lastSeen = Number(message.offset);
      const decoded = decodeMessage(orderCommandSchema, message);
      if (decoded.ok) commands.push({ message, cmd: decoded.value });
      else deadLetters.push(this.deadLetter(batch.partition, message, decoded.reason));
    }
    if (lastSeen < 0) return;

    const rejections: Rejection[] = [];
    const newRows: NewOrderRow[] = [];
    for (const { cmd } of commands) {
      if (cmd.kind !== 'place') continue;
      let market = this.markets.get(cmd.symbol);
      if (!market) market = await this.markets.refresh(cmd.symbol);
      const reason = checkMarketRules(cmd, market);
      newRows.push(toRow(cmd, reason));
      if (reason) rejections.push(this.rejection(cmd, reason));
    }

    // Rows first (idempotent); an existing row with our id means this batch is a replay.
    const started = process.hrtime.bigint();
    let inserted: Set<string>;
    try {
      inserted = await this.orders.insertNew(newRows);
    } catch (err) {
      this.m.dbErrors.inc({ table: 'orders' });
      throw err;
    }
    this.m.db.observe({ table: 'orders' }, Number(process.hrtime.bigint() - started) / 1e9);
    this.m.dbRows.observe({ table: 'orders' }, newRows.length);
    const lookup = commands.filter(({ cmd }) => cmd.kind !== 'place' || !inserted.has(cmd.orderId)).map(({ cmd }) => cmd.orderId);
    const existing = await this.orders.findStates(lookup);

    const newById = new Map(newRows.map((r) => [r.orderId, r]));
    const sequenced: Message[] = [];
    const routedAt = Date.now();
    for (const { cmd } of commands) {
      if (cmd.kind === 'place') {
        const row = inserted.has(cmd.orderId) ? newById.get(cmd.orderId) : undefined;
        const prior = existing.get(cmd.orderId);
        if (!row && !prior) {
          // Same clientOrderId, different order id: the first one stands.
          rejections.push(this.rejection(cmd, 'DUPLICATE_CLIENT_ORDER_ID'));
          continue;
        }
        const status = row?.status ?? prior?.status;
        if (status === 'rejected') continue;
        sequenced.push(this.route(cmd.symbol, cmd.accountId, cmd.receivedAt, routedAt, placeToEngine(cmd)));
        this.m.routed.inc({ kind: 'place' });
      } else {
        const order = existing.get(cmd.orderId);
        // Only the owner may touch an order; the gateway checked too.
        if (!order || order.accountId !== cmd.accountId || order.symbol !== cmd.symbol) {
          this.m.rejected.inc({ reason: 'UNKNOWN_ORDER' });
          continue;
        }
        const command = cmd.kind === 'cancel' ? { type: 'cancel' as const, orderId: cmd.orderId } : { type: 'amend' as const, orderId: cmd.orderId, price: cmd.price, qty: cmd.qty };
        sequenced.push(this.route(cmd.symbol, cmd.accountId, cmd.receivedAt, routedAt, command));
        this.m.routed.inc({ kind: cmd.kind });
      }
    }

    await this.transactions.commit(batch.partition, lastSeen + 1, [
      { topic: TOPICS.ordersSequenced.name, messages: sequenced },
      { topic: TOPICS.deadLetter.name, messages: deadLetters },
    ]);
    resolveOffset(String(lastSeen));
    await heartbeat();
    this.m.batch.observe(commands.length);
    this.m.lag.set({ topic: INPUT, partition: String(batch.partition), group: this.config.ORDER_ROUTER_GROUP_ID }, Number(batch.offsetLag()));
    for (const r of rejections) {
      this.m.rejected.inc({ reason: r.update.reason ?? 'unknown' });
      await this.stream.publish(r.accountId, [r.update]);
    }
  }

  private route(symbol: string, accountId: string, receivedAt: number, routedAt: number, command: SequencedCommand['command']): Message {
    const value = sequencedCommandSchema.parse({ symbol, accountId, receivedAt, routedAt, command, hold: 0 });
    return { key: symbol, partition: partitionFor(symbol, this.config.KAFKA_PARTITIONS), value: JSON.stringify(value) };
  }

  private rejection(cmd: PlaceOrderCommand, reason: RouterRejectReason): Rejection {
    return {
      accountId: cmd.accountId,
      update: { orderId: cmd.orderId, symbol: cmd.symbol, status: 'rejected', reason, filledQty: 0, qty: cmd.qty, lastSeq: 0, event: 'rejected' },
    };
  }

  private deadLetter(partition: number, message: KafkaMessage, reason: string): Message {
    return deadLetterMessage(INPUT, partition, message, reason, this.config.ORDER_ROUTER_GROUP_ID);
  }
}

function toRow(cmd: PlaceOrderCommand, reason: RouterRejectReason | null): NewOrderRow {
  return {
    orderId: cmd.orderId,
    accountId: cmd.accountId,
    symbol: cmd.symbol,
    clientOrderId: cmd.clientOrderId ?? null,
    side: cmd.side,
    orderType: cmd.orderType,
    tif: cmd.tif,
    postOnly: cmd.postOnly,
    price: cmd.price ?? null,
    stopPrice: cmd.stopPrice ?? null,
    displayQty: cmd.displayQty ?? null,
    qty: cmd.qty,
    status: reason ? 'rejected' : 'pending',
    reason,
    receivedAt: cmd.receivedAt,
  };
}

function placeToEngine(cmd: PlaceOrderCommand): SequencedCommand['command'] {
  return {
    type: 'new',
    orderId: cmd.orderId,
    accountId: cmd.accountId,
    side: cmd.side,
    orderType: cmd.orderType,
    qty: cmd.qty,
    price: cmd.price,
    tif: cmd.tif,
    postOnly: cmd.postOnly || undefined,
    displayQty: cmd.displayQty,
    stopPrice: cmd.stopPrice,
    protectionPrice: cmd.protectionPrice,
    quoteBudget: cmd.quoteBudget,
    stp: cmd.stp,
  };
}
