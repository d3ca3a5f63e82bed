import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import { orderUpdateSchema, TOPICS, type OrderUpdate } from '@trading/contracts';
import { OrdersRepository, type OrderEventRow, type OrderStateRow } from '@trading/db';
import { DeadLetterPublisher, ValidatedConsumer, type ConsumedRecord } from '@trading/kafka';
import { BATCH_SIZE_BUCKETS, DB_DURATION_BUCKETS_SECONDS, MetricsRegistry, PIPELINE_DURATION_BUCKETS_SECONDS } from '@trading/metrics';
import { DatabaseService, KAFKA, ProducerService, retryUntilConnected } from '@trading/nest-common';
import { ROUTER_CONFIG } from './command-router.service';
import type { OrderRouterConfig } from './order-router.config';
import { applyOrderEvent } from './order-state';
import { OrderStreamPublisher, type OrderStreamUpdate } from './order-stream.publisher';

/**
 * Consumes `orders.updates.v1` (co-partitioned with the commands: same key, same count) and keeps
 * each order's state. Per batch, one transaction writes the order events (ON CONFLICT DO
 * NOTHING) and the new order states (guarded by last_seq), so redelivery changes nothing.
 */
@Injectable()
export class OrderUpdatesService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(OrderUpdatesService.name);
  private readonly consumer: ValidatedConsumer<OrderUpdate>;
  private readonly orders: OrdersRepository;
  private stopping = false;
  private readonly m;

  constructor(
    @Inject(KAFKA) kafka: Kafka,
    @Inject(ROUTER_CONFIG) config: OrderRouterConfig,
    private readonly db: DatabaseService,
    private readonly stream: OrderStreamPublisher,
    producer: ProducerService,
    metrics: MetricsRegistry,
  ) {
    this.orders = new OrdersRepository(db.dataSource);
    const group = `${config.ORDER_ROUTER_GROUP_ID}.updates`;
    this.m = {
      db: metrics.histogram('db_write_duration_seconds', 'Batched database write time', DB_DURATION_BUCKETS_SECONDS, ['table']),
      dbRows: metrics.histogram('db_write_batch_size', 'Rows per batched database write', BATCH_SIZE_BUCKETS, ['table']),
      dbErrors: metrics.counter('db_write_errors_total', 'Failed batched database writes', ['table']),
      lag: metrics.gauge('kafka_consumer_lag_records', 'Records behind the high watermark', ['topic', 'partition', 'group']),
      persisted: metrics.histogram('pipeline_order_state_persisted_seconds', 'Gateway receipt to order state persisted', PIPELINE_DURATION_BUCKETS_SECONDS),
      dead: metrics.counter('kafka_dead_lettered_total', 'Records sent to the dead-letter topic', ['topic']),
    };
    this.consumer = new ValidatedConsumer(kafka, {
      groupId: group,
      topics: [TOPICS.orderUpdates.name],
      schema: orderUpdateSchema,
      deadLetters: new DeadLetterPublisher(producer.producer, group),
      handle: (records) => this.handle(records),
      metrics: {
        observeBatch: (topic, partition, _size, lag) => this.m.lag.set({ topic, partition: String(partition), group }, lag),
        deadLettered: (topic) => this.m.dead.inc({ topic }),
      },
    });
  }

  onModuleInit(): void {
    void retryUntilConnected('order updates consumer', () => this.consumer.start(), this.logger, () => this.stopping);
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    await this.consumer.stop();
  }

  private async handle(records: ConsumedRecord<OrderUpdate>[]): Promise<void> {
    const events: OrderEventRow[] = records.map(({ value: u }) => ({
      symbol: u.symbol,
      seq: u.seq,
      orderId: u.orderId,
      accountId: u.accountId,
      type: u.event.type,
      payload: u.event,
      emittedAt: u.emittedAt,
    }));
    const started = process.hrtime.bigint();
    const changed = new Map<string, OrderStateRow>();
    try {
      await this.db.dataSource.transaction(async (tx) => {
        await this.orders.insertEvents(events, tx);
        const states = await this.orders.findStates([...new Set(records.map((r) => r.value.orderId))], tx);
        for (const { value: u } of records) {
          const order = states.get(u.orderId);
          if (!order) {
            this.logger.error(`update for unknown order ${u.orderId} (${u.symbol} seq ${u.seq})`);
            continue;
          }
          if (applyOrderEvent(order, u.orderId, u.event)) changed.set(u.orderId, order);
        }
        await this.orders.updateStates([...changed.values()], tx);
      });
    } catch (err) {
      this.m.dbErrors.inc({ table: 'orders' });
      throw err;
    }
    this.m.db.observe({ table: 'order_events' }, Number(process.hrtime.bigint() - started) / 1e9);
    this.m.dbRows.observe({ table: 'order_events' }, events.length);
    const now = Date.now();
    for (const { value: u } of records) this.m.persisted.observe((now - u.receivedAt) / 1000);

    const byAccount = new Map<string, OrderStreamUpdate[]>();
    for (const o of changed.values()) {
      const list = byAccount.get(o.accountId) ?? [];
      list.push({ orderId: o.orderId, symbol: o.symbol, status: o.status, reason: o.reason, filledQty: o.filledQty, qty: o.qty, lastSeq: o.lastSeq });
      byAccount.set(o.accountId, list);
    }
    await Promise.all([...byAccount].map(([account, updates]) => this.stream.publish(account, updates)));
  }
}
