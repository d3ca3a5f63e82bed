import { type DynamicModule, Logger, Module } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import { executionSchema, TOPICS } from '@trading/contracts';
import { TradesRepository } from '@trading/db';
import { DeadLetterPublisher, fetchOptions, PartitionConsumer } from '@trading/kafka';
import {
  KAFKA,
  ProducerService,
  PlatformModule,
  kafkaProviders,
  KAFKA_READY,
  databaseProviders,
  DATABASE_READY,
  DatabaseService,
  MarketCatalogService,
  redisProviders,
  REDIS_READY,
} from '@trading/nest-common';
import type { MarketDataConfig } from './market-data.config';
import { MarketDataMetrics } from './market-data.metrics';
import { MarketDataController } from './market-data.controller';
import { MarketDataService } from './market-data.service';
import { EXECUTIONS_CONSUMER, MARKET_DATA_CONFIG } from './market-data.tokens';
import { RedisStreamPublisher } from './redis-stream.publisher';
import { TickerService } from './ticker.service';

@Module({})
export class AppModule {
  static forRoot(config: MarketDataConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PlatformModule.forRoot({
          service: 'market-data',
          instance: config.INSTANCE_ID,
          logLevel: config.LOG_LEVEL,
          infra: [
            ...kafkaProviders(config, 'market-data'),
            ...databaseProviders(config),
            ...redisProviders(config),
          ],
          readiness: [KAFKA_READY, DATABASE_READY, REDIS_READY],
        }),
      ],
      controllers: [MarketDataController],
      providers: [
        { provide: MARKET_DATA_CONFIG, useValue: config },
        {
          provide: TradesRepository,
          inject: [DatabaseService],
          useFactory: (db: DatabaseService) => new TradesRepository(db.dataSource),
        },
        MarketCatalogService,
        MarketDataMetrics,
        RedisStreamPublisher,
        TickerService,
        MarketDataService,
        {
          // The consumer group's commit after each batch (at least once; every step is idempotent).
          provide: EXECUTIONS_CONSUMER,
          inject: [KAFKA, ProducerService, MarketDataMetrics],
          useFactory: (kafka: Kafka, producer: ProducerService, metrics: MarketDataMetrics) =>
            new PartitionConsumer(kafka, {
              name: 'executions',
              groupId: config.MARKET_DATA_GROUP_ID,
              topics: { [TOPICS.executions.name]: executionSchema },
              commit: { kind: 'consumer' },
              deadLetters: new DeadLetterPublisher(producer.producer, config.MARKET_DATA_GROUP_ID),
              metrics: metrics.consumer,
              fromBeginning: config.MARKET_DATA_FROM_BEGINNING,
              fetch: fetchOptions(config),
              logger: new Logger('MarketDataConsumer'),
            }),
        },
      ],
    };
  }
}
