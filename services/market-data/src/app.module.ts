import { type DynamicModule, Module } from '@nestjs/common';
import { TradesRepository } from '@trading/db';
import {
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
import { MarketDataService } from './market-data.service';
import { MARKET_DATA_CONFIG } from './market-data.tokens';
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
      ],
    };
  }
}
