import { type DynamicModule, Module } from '@nestjs/common';
import { PlatformModule, kafkaProviders, KAFKA_READY } from '@trading/nest-common';
import type { MatchingWorkerConfig } from './matching-worker.config';

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
          infra: [...kafkaProviders(config, 'matching-worker')],
          readiness: [KAFKA_READY],
        }),
      ],
    };
  }
}
