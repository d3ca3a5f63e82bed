import { createServer } from 'node:http';
import pino from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { Autoscaler } from './autoscaler';
import { ConfigError, loadAutoscalerConfig } from './config';
import { dockerEngine } from './docker-engine';
import { prometheusQuery } from './prometheus';

// The Swarm autoscaler (docs/adr/0015): every AUTOSCALER_INTERVAL_SECONDS it reads the signals of
// each configured service from Prometheus, decides (policy.ts) and sets the service's replicas
// through the Docker Engine API on the manager's socket. /metrics for Prometheus, /health/* for
// the image's HEALTHCHECK.
function main(): void {
  let config;
  try {
    config = loadAutoscalerConfig(process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`autoscaler: ${err.message}\n`);
    process.exit(2);
  }
  // `service` in a line is the scaled service; the process names itself `app`.
  const log = pino({ level: config.logLevel, base: { app: 'autoscaler' } });
  const registry = new Registry();
  registry.setDefaultLabels({ service: 'autoscaler' });
  collectDefaultMetrics({ register: registry });
  const autoscaler = new Autoscaler(
    config,
    prometheusQuery(config.prometheusUrl),
    dockerEngine(config.dockerSocket),
    {
      info: (o, m) => log.info(o, m),
      warn: (o, m) => log.warn(o, m),
      error: (o, m) => log.error(o, m),
      debug: (o, m) => log.debug(o, m),
    },
    registry,
  );

  let stopping = false;
  const server = createServer((req, res) => {
    if (req.url === '/metrics') {
      registry
        .metrics()
        .then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text))
        .catch(() => res.writeHead(500).end());
    } else if (req.url?.startsWith('/health/')) {
      res.writeHead(stopping ? 503 : 200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    } else res.writeHead(404).end();
  });
  server.listen(config.httpPort, process.env.HTTP_HOST ?? '0.0.0.0');

  let timer: NodeJS.Timeout | undefined;
  const loop = async (): Promise<void> => {
    try {
      await autoscaler.tick();
    } catch (err) {
      log.error({ event: 'tick_failed', error: (err as Error).message }, 'tick failed');
    }
    if (!stopping) timer = setTimeout(() => void loop(), config.intervalSeconds * 1000);
  };
  log.info(
    {
      event: 'started',
      mode: config.mode,
      stack: config.stack,
      intervalSeconds: config.intervalSeconds,
      partitions: config.partitions,
      services: Object.fromEntries(config.services.map((s) => [s.name, { ...s.policy, queries: s.queries }])),
    },
    `autoscaler started (${config.mode})`,
  );
  void loop();

  const stop = (): void => {
    stopping = true;
    if (timer) clearTimeout(timer);
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2_000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
