import { type DynamicModule, Module } from '@nestjs/common';
import {
  DATABASE_READY,
  databaseProviders,
  KAFKA_READY,
  kafkaProviders,
  MarketCatalogService,
  PlatformModule,
  REDIS_READY,
  redisProviders,
} from '@trading/nest-common';
import type { OrderRouterConfig } from './order-router.config';
import { OrderStreamPublisher } from './order-stream.publisher';
import { OrderRouterService, ROUTER_CONFIG } from './order-router.service';

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
      providers: [{ provide: ROUTER_CONFIG, useValue: config }, OrderStreamPublisher, OrderRouterService],
    };
  }
}
