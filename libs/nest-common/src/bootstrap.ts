import 'reflect-metadata';
import { type DynamicModule, type INestApplication, type InjectionToken, type Type } from '@nestjs/common';
import type { CustomTransportStrategy } from '@nestjs/microservices';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance } from 'fastify';
import { Logger, PinoLogger } from 'nestjs-pino';
import { MetricsRegistry } from '@trading/metrics';
import { correlationIdOf, installRequestLogging } from './request-logging';
import { ShutdownState } from './shutdown-state';

export interface BootstrapOptions {
  host: string;
  port: number;
  shutdownTimeoutMs: number;
  /** Readiness off this long before the listener closes (SHUTDOWN_DRAIN_MS); 0 closes at once. */
  shutdownDrainMs?: number;
  bodyLimitBytes?: number;
  /**
   * Proxies (addresses or CIDR ranges) whose X-Forwarded-For sets request.ip. None by default:
   * a client could otherwise pick its own address.
   */
  trustProxy?: readonly string[];
  /**
   * Further Fastify server options (the gateway's `frameworkErrors` and `clientErrorHandler`,
   * which answer Fastify's and Node's own refusals in its error shape).
   */
  server?: Record<string, unknown>;
  /**
   * Providers that are microservice transports (PartitionConsumer): each is connected with
   * app.connectMicroservice({ strategy }) and started before the listener, consuming in the background.
   */
  transports?: readonly InjectionToken[];
  /** Hook to add Swagger, WebSocket adapters etc. before listen. */
  configure?: (app: NestFastifyApplication) => Promise<void> | void;
}

/**
 * Starts a service on Fastify with JSON logs (a line per failed request), HTTP metrics by route template and graceful
 * shutdown: on SIGTERM/SIGINT readiness turns false, consumers stop, producers flush, then exit.
 */
export async function bootstrapService(
  module: Type<unknown> | DynamicModule,
  options: BootstrapOptions,
): Promise<INestApplication> {
  const adapter = new FastifyAdapter({
    ...options.server,
    bodyLimit: options.bodyLimitBytes ?? 64 * 1024,
    trustProxy: options.trustProxy?.length ? [...options.trustProxy] : false,
    // The request id is the correlation id (the caller's when sane), echoed by installRequestLogging.
    genReqId: correlationIdOf,
  });
  const app = await NestFactory.create<NestFastifyApplication>(module, adapter, { bufferLogs: true });
  const logger = app.get(Logger);
  app.useLogger(logger);
  app.flushLogs();

  const metrics = app.get(MetricsRegistry);
  const fastify = app.getHttpAdapter().getInstance();
  // The root pino logger (no request store exists: PlatformModule mounts no pino-http middleware).
  installRequestLogging(fastify as unknown as FastifyInstance, (await app.resolve(PinoLogger)).logger);
  fastify.addHook('onResponse', (request, reply, done) => {
    // The route template keeps label cardinality bounded; unmatched URLs share one label.
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.observeHttp(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });

  if (options.configure) await options.configure(app);
  await startTransports(app, options.transports ?? []);
  await app.listen(options.port, options.host);
  logger.log(`listening on http://${options.host}:${options.port}`);

  // Shutdown: app.close() runs the lifecycle hooks in order (consumers stop in onModuleDestroy,
  // readiness flips in beforeApplicationShutdown, producers flush and pools close in
  // onApplicationShutdown), then the process exits 0. A hang still ends the process.
  let closing = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (closing) return;
    closing = true;
    logger.log(`${signal} received, shutting down`);
    setTimeout(() => {
      logger.error(`shutdown exceeded ${options.shutdownTimeoutMs} ms, exiting`);
      process.exit(1);
    }, options.shutdownTimeoutMs).unref();
    const drainMs = options.shutdownDrainMs ?? 0;
    if (drainMs > 0) {
      // Balancers see /health/serving (and /health/ready) answer 503 and stop sending before the listener closes;
      // requests that still arrive meanwhile are served.
      app.get(ShutdownState, { strict: false }).markStopping();
      logger.log(`draining for ${drainMs} ms before closing`);
    }
    setTimeout(() => {
      app.close().then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error(`shutdown failed: ${err instanceof Error ? err.message : String(err)}`);
          process.exit(1);
        },
      );
    }, drainMs);
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  return app;
}

/**
 * Connects each provider named by `tokens` as a microservice transport of the app (its
 * @EventPattern handlers are the app's controllers' methods) and starts them.
 */
export async function startTransports(
  app: INestApplication,
  tokens: readonly InjectionToken[],
): Promise<void> {
  if (tokens.length === 0) return;
  for (const token of tokens) {
    app.connectMicroservice(
      { strategy: app.get<CustomTransportStrategy>(token, { strict: false }) },
      { inheritAppConfig: true },
    );
  }
  await app.startAllMicroservices();
}

/** Logs a boot failure (bad config included) as one JSON line and exits non-zero. */
export function exitOnBootFailure(service: string): (err: unknown) => never {
  return (err: unknown) => {
    process.stderr.write(
      `${JSON.stringify({ level: 'fatal', service, msg: 'boot failed', err: err instanceof Error ? err.message : String(err) })}\n`,
    );
    process.exit(1);
  };
}
