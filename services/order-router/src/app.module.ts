import { type DynamicModule, Module } from '@nestjs/common';
import {
  PlatformModule,
  kafkaProviders,
  KAFKA_READY,
  databaseProviders,
  DATABASE_READY,
} from '@trading/nest-common';
import type { OrderRouterConfig } from './order-router.config';

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
          infra: [...kafkaProviders(config, 'order-router'), ...databaseProviders(config)],
          readiness: [KAFKA_READY, DATABASE_READY],
        }),
      ],
    };
  }
}
