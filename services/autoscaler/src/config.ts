import { z } from 'zod';
import type { ServicePolicy } from './policy';

// Configuration from the environment, validated once at start: a wrong policy stops the process
// with every problem listed, never scales on a half-read configuration.
//
//   AUTOSCALER_SERVICES  JSON: { "<service>": { min, max, step?, cooldownSeconds?,
//                        upCooldownSeconds?, capAtPartitions?, signals: [{ metric, up, down,
//                        query?, name? }] } }; <service> is the name in the stack (api-gateway)
//   AUTOSCALER_MODE      on (sets replicas) | dry-run (decides, logs, exports; changes nothing)
//   AUTOSCALER_STACK     the stack's namespace: services are `<stack>_<service>`
//   AUTOSCALER_INTERVAL_SECONDS, AUTOSCALER_WINDOW (rate window of the built-in queries),
//   PROMETHEUS_URL, DOCKER_SOCKET, KAFKA_PARTITIONS, HTTP_PORT, LOG_LEVEL

/** Built-in signals: PromQL with `$service` (the Prometheus job) and `$window`. */
export const METRIC_QUERIES = {
  // CPU cores per task, averaged over the service's tasks (the limit is 1 CPU per task).
  cpu: 'avg(rate(process_cpu_seconds_total{job="$service"}[$window]))',
  // Seconds from an order's receipt at the gateway to its acknowledgement, p99 over all gateways.
  ack_latency_p99:
    'histogram_quantile(0.99, sum by (le) (rate(gateway_order_ack_duration_seconds_bucket[$window])))',
  // Records behind the head, summed over the service's partitions (market-data has its own name).
  consumer_lag:
    'sum(kafka_consumer_lag_records{job="$service"}) or sum(market_data_consumer_lag_records{job="$service"})',
} as const;
export type BuiltinMetric = keyof typeof METRIC_QUERIES;

const signalSchema = z
  .object({
    metric: z.enum([...(Object.keys(METRIC_QUERIES) as BuiltinMetric[]), 'query']),
    name: z
      .string()
      .regex(/^[a-z][a-z0-9_]*$/, 'lower-case letters, digits and _')
      .optional(),
    query: z.string().min(1).optional(),
    up: z.number().finite(),
    down: z.number().finite(),
  })
  .strict()
  .refine((s) => s.down < s.up, { message: 'down must be below up (hysteresis)' })
  .refine((s) => (s.metric === 'query') === (s.query !== undefined), {
    message: 'query is given with metric "query", and only then',
  })
  .refine((s) => s.metric !== 'query' || s.name !== undefined, {
    message: 'a "query" signal needs a name',
  });

const serviceSchema = z
  .object({
    min: z.number().int().min(1),
    max: z.number().int().min(1),
    step: z.number().int().min(1).default(1),
    cooldownSeconds: z.number().min(0).default(300),
    upCooldownSeconds: z.number().min(0).default(60),
    capAtPartitions: z.boolean().optional(),
    signals: z.array(signalSchema).min(1),
  })
  .strict()
  .refine((s) => s.min <= s.max, { message: 'min must not exceed max' })
  .refine((s) => new Set(s.signals.map((x) => x.name ?? x.metric)).size === s.signals.length, {
    message: 'signal names must be unique',
  });

const envSchema = z.object({
  AUTOSCALER_SERVICES: z.string().min(1),
  AUTOSCALER_MODE: z.enum(['on', 'dry-run']).default('on'),
  AUTOSCALER_STACK: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, 'a stack name'),
  AUTOSCALER_INTERVAL_SECONDS: z.coerce.number().min(1).default(15),
  AUTOSCALER_WINDOW: z
    .string()
    .regex(/^\d+[smh]$/, 'a Prometheus duration like 1m')
    .default('1m'),
  PROMETHEUS_URL: z.string().url().default('http://prometheus:9090'),
  DOCKER_SOCKET: z.string().min(1).default('/var/run/docker.sock'),
  KAFKA_PARTITIONS: z.coerce.number().int().min(1).default(12),
  HTTP_PORT: z.coerce.number().int().min(1).max(65535).default(8080),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
});

export interface ScaledService {
  name: string;
  policy: ServicePolicy;
  /** PromQL per signal name. */
  queries: Record<string, string>;
}

export interface AutoscalerConfig {
  mode: 'on' | 'dry-run';
  stack: string;
  intervalSeconds: number;
  prometheusUrl: string;
  dockerSocket: string;
  partitions: number;
  httpPort: number;
  logLevel: string;
  services: ScaledService[];
}

export class ConfigError extends Error {}

const describe = (issues: z.core.$ZodIssue[], prefix: string): string[] =>
  issues.map((i) => `${[prefix, ...i.path.map(String)].filter(Boolean).join('.')}: ${i.message}`);

export function loadAutoscalerConfig(env: Record<string, string | undefined>): AutoscalerConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success)
    throw new ConfigError(`invalid configuration: ${describe(parsed.error.issues, '').join('; ')}`);
  const e = parsed.data;
  let raw: unknown;
  try {
    raw = JSON.parse(e.AUTOSCALER_SERVICES);
  } catch (err) {
    throw new ConfigError(`AUTOSCALER_SERVICES is not JSON: ${(err as Error).message}`);
  }
  const services = z
    .record(z.string().regex(/^[a-z][a-z0-9-]*$/, 'a service name of the stack'), serviceSchema)
    .refine((r) => Object.keys(r).length > 0, { message: 'no service to scale' })
    .safeParse(raw);
  if (!services.success)
    throw new ConfigError(
      `invalid AUTOSCALER_SERVICES: ${describe(services.error.issues, 'AUTOSCALER_SERVICES').join('; ')}`,
    );
  const problems: string[] = [];
  const scaled = Object.entries(services.data).map(([name, s]): ScaledService => {
    // Matching workers form one consumer group over KAFKA_PARTITIONS partitions.
    const capAtPartitions = s.capAtPartitions ?? name === 'matching-worker';
    if (capAtPartitions && s.min > e.KAFKA_PARTITIONS)
      problems.push(`${name}: min ${s.min} is above the partition count ${e.KAFKA_PARTITIONS}`);
    const queries: Record<string, string> = {};
    const signals = s.signals.map((sig) => {
      const signalName = sig.name ?? sig.metric;
      const template = sig.metric === 'query' ? (sig.query as string) : METRIC_QUERIES[sig.metric];
      queries[signalName] = template.replaceAll('$service', name).replaceAll('$window', e.AUTOSCALER_WINDOW);
      return { name: signalName, up: sig.up, down: sig.down };
    });
    return {
      name,
      policy: {
        min: s.min,
        max: s.max,
        step: s.step,
        cooldownSeconds: s.cooldownSeconds,
        upCooldownSeconds: s.upCooldownSeconds,
        capAtPartitions,
        signals,
      },
      queries,
    };
  });
  if (problems.length > 0) throw new ConfigError(`invalid AUTOSCALER_SERVICES: ${problems.join('; ')}`);
  return {
    mode: e.AUTOSCALER_MODE,
    stack: e.AUTOSCALER_STACK,
    intervalSeconds: e.AUTOSCALER_INTERVAL_SECONDS,
    prometheusUrl: e.PROMETHEUS_URL.replace(/\/$/, ''),
    dockerSocket: e.DOCKER_SOCKET,
    partitions: e.KAFKA_PARTITIONS,
    httpPort: e.HTTP_PORT,
    logLevel: e.LOG_LEVEL,
    services: scaled,
  };
}
