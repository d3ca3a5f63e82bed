import { type DynamicModule, Logger, Module } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import { sequencedCommandSchema } from '@trading/contracts';
import { EngineSnapshotsRepository } from '@trading/db';
import { consumerMetrics, fetchOptions, PartitionConsumer } from '@trading/kafka';
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
} from '@trading/nest-common';
import type { MatchingWorkerConfig } from './matching-worker.config';
import { MatchingWorkerController } from './matching-worker.controller';
import { INPUT, MATCHING_CONFIG, MatchingWorkerService } from './matching-worker.service';

/** The orders.sequenced.v1 consumer (a PartitionConsumer transport; main connects it). */
export const SEQUENCED_CONSUMER = Symbol('SEQUENCED_CONSUMER');

@Module({})
export class AppModule {
  static forRoot(config: MatchingWorkerConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PlatformModule.forRoot({
          service: 'matching-worker',
          instance: config.INSTANCE_ID,
          logLevel: config.LOG_LEVEL,
          infra: [
            ...kafkaProviders(config, 'matching-worker'),
            ...databaseProviders(config),
            MarketCatalogService,
          ],
          readiness: [KAFKA_READY, DATABASE_READY],
        }),
      ],
      controllers: [MatchingWorkerController],
      providers: [
        { provide: MATCHING_CONFIG, useValue: config },
        {
          provide: EngineSnapshotsRepository,
          inject: [DatabaseService],
          useFactory: (db: DatabaseService) => new EngineSnapshotsRepository(db.dataSource),
        },
        MatchingWorkerService,
        {
          // The worker commits each batch's offset in its Kafka transaction (ADR 0003), invalid
          // records dead-lettered in it too.
          provide: SEQUENCED_CONSUMER,
          inject: [KAFKA, MetricsRegistry],
          useFactory: (kafka: Kafka, metrics: MetricsRegistry) =>
            new PartitionConsumer(kafka, {
              name: 'matching',
              groupId: config.MATCHING_GROUP_ID,
              topics: { [INPUT]: sequencedCommandSchema },
              commit: { kind: 'transaction' },
              deadLetters: 'handler',
              metrics: consumerMetrics(metrics, {
                lag: {
                  name: 'kafka_consumer_lag_records',
                  help: 'Records behind the high watermark',
                  group: config.MATCHING_GROUP_ID,
                },
              }),
              fetch: fetchOptions(config),
              rebalanceTimeout: 20_000,
              concurrency: 3,
              logger: new Logger('MatchingConsumer'),
            }),
        },
      ],
    };
  }
}
