import { type DynamicModule, Module } from '@nestjs/common';
import {
  DATABASE_READY,
  databaseProviders,
  KAFKA_READY,
  kafkaProviders,
  MarketCatalogService,
  PlatformModule,
} from '@trading/nest-common';
import type { MatchingWorkerConfig } from './matching-worker.config';
import { MATCHING_CONFIG, MatchingWorkerService } from './matching-worker.service';

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
      providers: [{ provide: MATCHING_CONFIG, useValue: config }, MatchingWorkerService],
    };
  }
}
