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
import type { ApiGatewayConfig } from './api-gateway.config';

@Module({})
export class AppModule {
  static forRoot(config: ApiGatewayConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PlatformModule.forRoot({
          service: 'api-gateway',
          instance: config.INSTANCE_ID,
          logLevel: config.LOG_LEVEL,
          infra: [
            ...kafkaProviders(config, 'api-gateway'),
            ...databaseProviders(config),
            ...redisProviders(config),
          ],
          readiness: [KAFKA_READY, DATABASE_READY, REDIS_READY],
        }),
      ],
    };
  }
}
