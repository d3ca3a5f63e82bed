import { type DynamicModule, Logger, Module, type Provider, type Type } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import type { DataSource } from 'typeorm';
import { orderCommandSchema, orderUpdateBatchSchema } from '@trading/contracts';
import {
  AccountStreamRepository,
  BalancesRepository,
  ConsumerOffsetsRepository,
  OrdersRepository,
  RouterBatchRepository,
  RouterOutboxRepository,
} from '@trading/db';
import {
  CoPartitionAssigner,
  consumerMetrics,
  DeadLetterPublisher,
  fetchOptions,
  PartitionConsumer,
  type ConsumerMetrics,
} from '@trading/kafka';
import { MetricsRegistry } from '@trading/metrics';
import {
  DATABASE_READY,
  databaseProviders,
  DatabaseService,
  KAFKA,
  KAFKA_READY,
  kafkaProviders,
  MarketCatalogService,
  PlatformModule,
  ProducerService,
  REDIS_READY,
  redisProviders,
} from '@trading/nest-common';
import type { OrderRouterConfig } from './order-router.config';
import { OrderRouterController } from './order-router.controller';
import { OrderStreamPublisher } from './order-stream.publisher';
import {
  COMMANDS,
  OrderRouterService,
  ROUTER_CONFIG,
  ROUTER_CONSUMER_METRICS,
  UPDATES,
} from './order-router.service';

/** The consumer of orders.commands.v1 and orders.updates.v2 (a PartitionConsumer transport; main connects it). */
export const ROUTER_CONSUMER = Symbol('ROUTER_CONSUMER');

const repository = <T>(type: Type<T>, make: (ds: DataSource) => T): Provider => ({
  provide: type,
  inject: [DatabaseService],
  useFactory: (db: DatabaseService) => make(db.dataSource),
});

@Module({})
export class AppModule {
  static forRoot(config: OrderRouterConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PlatformModule.forRoot({
          service: 'order-router',
          instance: config.INSTANCE_ID,
          logLevel: config.LOG_LEVEL,
          infra: [
            ...kafkaProviders(config, 'order-router'),
            ...databaseProviders(config),
            ...redisProviders(config),
            MarketCatalogService,
          ],
          readiness: [KAFKA_READY, DATABASE_READY, REDIS_READY],
        }),
      ],
      controllers: [OrderRouterController],
      providers: [
        { provide: ROUTER_CONFIG, useValue: config },
        repository(OrdersRepository, (ds) => new OrdersRepository(ds)),
        repository(BalancesRepository, (ds) => new BalancesRepository(ds)),
        repository(ConsumerOffsetsRepository, (ds) => new ConsumerOffsetsRepository(ds)),
        repository(RouterOutboxRepository, (ds) => new RouterOutboxRepository(ds)),
        repository(RouterBatchRepository, (ds) => new RouterBatchRepository(ds)),
        repository(AccountStreamRepository, (ds) => new AccountStreamRepository(ds)),
        {
          provide: ROUTER_CONSUMER_METRICS,
          inject: [MetricsRegistry],
          useFactory: (metrics: MetricsRegistry): ConsumerMetrics =>
            consumerMetrics(metrics, {
              batch: { name: 'router_batch_size', help: 'Records per partition batch' },
              lag: {
                name: 'kafka_consumer_lag_records',
                help: 'Records behind the high watermark',
                group: config.ORDER_ROUTER_GROUP_ID,
              },
              deadLetters: {
                name: 'kafka_dead_lettered_total',
                help: 'Records sent to the dead-letter topic',
              },
            }),
        },
        OrderStreamPublisher,
        OrderRouterService,
        {
          // Offsets are committed in the database with each batch's writes (ADR 0005, 0008): the
          // transport seeks to them on assignment and never hands over a record below them.
          provide: ROUTER_CONSUMER,
          inject: [KAFKA, ProducerService, ConsumerOffsetsRepository, ROUTER_CONSUMER_METRICS],
          useFactory: (
            kafka: Kafka,
            producer: ProducerService,
            offsets: ConsumerOffsetsRepository,
            metrics: ConsumerMetrics,
          ) =>
            new PartitionConsumer(kafka, {
              name: 'order-router',
              groupId: config.ORDER_ROUTER_GROUP_ID,
              topics: { [COMMANDS]: orderCommandSchema, [UPDATES]: orderUpdateBatchSchema },
              commit: {
                kind: 'store',
                load: (topic, partition) => offsets.load(config.ORDER_ROUTER_GROUP_ID, topic, partition),
              },
              deadLetters: new DeadLetterPublisher(producer.producer, config.ORDER_ROUTER_GROUP_ID),
              metrics,
              partitionAssigners: [CoPartitionAssigner],
              rebalanceTimeout: 20_000,
              fetch: fetchOptions(config),
              concurrency: config.ORDER_ROUTER_CONCURRENCY,
              // Commands and updates of one partition take turns: they share its balances.
              lockPartitions: true,
              logger: new Logger('OrderRouterConsumer'),
            }),
        },
      ],
    };
  }
}
