import { type DynamicModule, Module, type Provider } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import { MetricsRegistry } from '@trading/metrics';
import { HealthController } from './health.controller';
import { MetricsController } from './metrics.controller';
import { READINESS_CHECKS } from './readiness';
import { ShutdownState } from './shutdown-state';
import { ReadinessService } from './readiness.service';

export interface PlatformModuleOptions {
  service: string;
  instance: string;
  logLevel: string;
  /** Infrastructure providers (Kafka, database, Redis), exported to every module. */
  infra: Provider[];
  /** Tokens of the ReadinessCheck providers /health/ready runs. */
  readiness: symbol[];
}

/**
 * What every service shares: JSON logs (request lines with a correlation id: bootstrap.ts), /health/live, /health/ready,
 * /metrics and the shutdown state. Global so feature modules can inject the registry.
 */
@Module({})
export class PlatformModule {
  static forRoot(options: PlatformModuleOptions): DynamicModule {
    const providers: Provider[] = [
      { provide: MetricsRegistry, useValue: new MetricsRegistry(options.service, options.instance) },
      { provide: 'APPLICATION_NAME', useValue: `${options.service}-${options.instance}` },
      ShutdownState,
      ReadinessService,
      ...options.infra,
      { provide: READINESS_CHECKS, useFactory: (...checks: unknown[]) => checks, inject: options.readiness },
    ];
    const exported = options.infra.map((p) => (typeof p === 'function' ? p : p.provide));
    return {
      module: PlatformModule,
      global: true,
      imports: [
        TerminusModule.forRoot({ logger: false, errorLogStyle: 'json' }),
        // The logger only: no pino-http middleware and no per-request AsyncLocalStorage store (they
        // were a tenth of the gateway's CPU per order). Request lines and the correlation id come
        // from Fastify hooks (installRequestLogging in bootstrap.ts).
        LoggerModule.forRoot({
          pinoHttp: {
            level: options.logLevel,
            base: { service: options.service, instance: options.instance },
            messageKey: 'msg',
          },
          forRoutes: [],
        }),
      ],
      controllers: [HealthController, MetricsController],
      providers,
      exports: [MetricsRegistry, ShutdownState, READINESS_CHECKS, 'APPLICATION_NAME', ...exported],
    };
  }
}
