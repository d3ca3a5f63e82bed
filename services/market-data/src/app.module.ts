import { type DynamicModule, Module } from '@nestjs/common';
import {
  PlatformModule,
  kafkaProviders,
  KAFKA_READY,
  databaseProviders,
  DATABASE_READY,
  redisProviders,
  REDIS_READY,
} from '@trading/nest-common';
import type { MarketDataConfig } from './market-data.config';

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
    };
  }
}
