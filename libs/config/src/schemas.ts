import { z } from 'zod';

const port = z.coerce.number().int().min(1).max(65535);
const positiveInt = z.coerce.number().int().positive();
const bool = z.enum(['true', 'false']).transform((v) => v === 'true');

/** Keys every service has: HTTP listener, logging, shutdown budget. */
export const baseSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HTTP_HOST: z.string().default('127.0.0.1'),
  HTTP_PORT: port,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SHUTDOWN_TIMEOUT_MS: positiveInt.default(10_000),
  /**
   * On SIGTERM, how long readiness reads 503 while requests are still served, before the listener
   * closes: a balancer's health checks take the instance out first (the Swarm edge checks every
   * second). Part of SHUTDOWN_TIMEOUT_MS.
   */
  SHUTDOWN_DRAIN_MS: z.coerce.number().int().min(0).default(0),
  INSTANCE_ID: z.string().min(1).default('0'),
});

export const kafkaSchema = z.object({
  KAFKA_BROKERS: z
    .string()
    .min(1)
    .transform((s) =>
      s
        .split(',')
        .map((b) => b.trim())
        .filter((b) => b.length > 0),
    ),
  KAFKA_CLIENT_ID: z.string().min(1).optional(),
  KAFKA_PARTITIONS: positiveInt.default(12),
  KAFKA_SASL_USERNAME: z.string().optional(),
  KAFKA_SASL_PASSWORD: z.string().optional(),
  KAFKA_SSL: bool.default(false),
  // Consumer fetches: the broker answers once KAFKA_FETCH_MIN_BYTES are there or after
  // KAFKA_FETCH_MAX_WAIT_MS. Larger values mean fewer, fuller fetches (less broker and consumer
  // CPU per record) for at most that much added latency per hop (docs/performance.md).
  KAFKA_FETCH_MAX_WAIT_MS: positiveInt.default(100),
  KAFKA_FETCH_MIN_BYTES: positiveInt.default(1),
  // After a fetch that brought no records, the next one asks for the first byte and waits up to
  // KAFKA_FETCH_IDLE_WAIT_MS for it (answered the moment a record arrives): an idle consumer asks
  // the broker twice a second instead of every KAFKA_FETCH_MAX_WAIT_MS (patches/kafkajs). 0: off
  // (every fetch as configured, kafkajs as published).
  KAFKA_FETCH_IDLE_WAIT_MS: z.coerce.number().int().nonnegative().default(500),
});

export const databaseSchema = z.object({
  // Services connect through PgBouncer (transaction pooling).
  DATABASE_HOST: z.string().min(1),
  DATABASE_PORT: port,
  // Migrations need a session, so they bypass PgBouncer.
  DATABASE_DIRECT_HOST: z.string().min(1).optional(),
  DATABASE_DIRECT_PORT: port.optional(),
  DATABASE_NAME: z.string().min(1),
  DATABASE_USER: z.string().min(1),
  DATABASE_PASSWORD: z.string().min(1),
  DATABASE_POOL_SIZE: positiveInt.default(10),
  DATABASE_SSL: bool.default(false),
  // History reads (candles, public trades, order history, fills, ledger) go to a hot standby:
  // PgBouncer's database for it, on DATABASE_HOST:DATABASE_PORT. Unset: every read on the primary.
  DATABASE_REPLICA_NAME: z.string().min(1).optional(),
  // Replica lag past which (or with the replica down) history reads go to the primary.
  DATABASE_REPLICA_MAX_LAG_MS: positiveInt.default(2000),
});

export const redisSchema = z.object({
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL'),
  REDIS_PASSWORD: z.string().optional(),
  // With Sentinel (docs/reliability.md "Redis failover"): the sentinels to ask for the primary of
  // REDIS_SENTINEL_NAME, comma-separated host:port; REDIS_URL then only gives the database and
  // the scheme. Every connection follows the primary through a failover without a restart.
  REDIS_SENTINELS: z
    .string()
    .regex(/^[^,:\s]+:\d+(,[^,:\s]+:\d+)*$/, 'must be host:port[,host:port...]')
    .optional(),
  REDIS_SENTINEL_NAME: z.string().min(1).default('exchange'),
  REDIS_SENTINEL_PASSWORD: z.string().optional(),
});

export type BaseConfig = z.infer<typeof baseSchema>;
export type KafkaConfig = z.infer<typeof kafkaSchema>;
export type DatabaseConfig = z.infer<typeof databaseSchema>;
export type RedisConfig = z.infer<typeof redisSchema>;
