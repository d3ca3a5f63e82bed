import { randomUUID } from 'node:crypto';
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

export const CORRELATION_HEADER = 'x-correlation-id';

/**
 * What every service shares: JSON logs with a correlation id, /health/live, /health/ready,
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
        LoggerModule.forRoot({
          pinoHttp: {
            level: options.logLevel,
            base: { service: options.service, instance: options.instance },
            messageKey: 'msg',
            genReqId: (req, res) => {
              const incoming = req.headers[CORRELATION_HEADER] ?? req.headers['x-request-id'];
              const id =
                typeof incoming === 'string' && /^[\w.:-]{1,128}$/.test(incoming) ? incoming : randomUUID();
              res.setHeader(CORRELATION_HEADER, id);
              return id;
            },
            customAttributeKeys: { reqId: 'correlationId' },
            // Secrets and signatures never reach a log line.
            redact: {
              paths: [
                'req.headers.authorization',
                'req.headers["x-api-key"]',
                'req.headers["x-api-signature"]',
                'req.headers["x-operator-token"]',
                'req.headers.cookie',
              ],
              censor: '[redacted]',
            },
            autoLogging: {
              ignore: (req) => req.url === '/metrics' || (req.url?.startsWith('/health') ?? false),
            },
            // A log line per successful request costs more CPU than the request at load: those
            // go out at debug; client errors at warn, server errors at error.
            customLogLevel: (_req, res, err) =>
              err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'debug',
          },
        }),
      ],
      controllers: [HealthController, MetricsController],
      providers,
      exports: [MetricsRegistry, ShutdownState, READINESS_CHECKS, 'APPLICATION_NAME', ...exported],
    };
  }
}
