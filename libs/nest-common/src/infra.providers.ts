import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleInit,
  type Provider,
} from '@nestjs/common';
import type { Kafka, RetryOptions } from 'kafkajs';
import type { DataSource } from 'typeorm';
import type Redis from 'ioredis';
import { type DatabaseConfig, type KafkaConfig, type RedisConfig } from '@trading/config';
import { topicPlan } from '@trading/contracts';
import { createDataSource, ENTITIES, MIGRATIONS, pingDatabase } from '@trading/db';
import { BatchingProducer, createKafka, KafkaProbe } from '@trading/kafka';
import { MetricsRegistry, KAFKA_DURATION_BUCKETS_SECONDS, BATCH_SIZE_BUCKETS } from '@trading/metrics';
import { createRedis, pingRedis, type RedisClientOptions } from '@trading/redis';
import type { ReadinessCheck } from './readiness';

export const KAFKA = Symbol('KAFKA');
export const KAFKA_READY = Symbol('KAFKA_READY');
export const DATABASE_READY = Symbol('DATABASE_READY');
export const REDIS_READY = Symbol('REDIS_READY');

const CHECK_TIMEOUT_MS = 1500;

/** Retries an async start-up step with capped backoff until it succeeds or the process stops. */
export async function retryUntilConnected(
  name: string,
  fn: () => Promise<void>,
  logger: Logger,
  stopped: () => boolean,
): Promise<void> {
  for (let attempt = 0; !stopped(); attempt++) {
    try {
      await fn();
      if (attempt > 0) logger.log(`${name} connected after ${attempt} retries`);
      return;
    } catch (err) {
      logger.warn(`${name} not reachable (${err instanceof Error ? err.message : String(err)}), retrying`);
      await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** Math.min(attempt, 5), 3000)));
    }
  }
}

/**
 * `retry` bounds the client's own retries (connects, metadata): a request-serving process (the
 * gateway) wants a short bound so a send during an outage fails in seconds.
 */
export function kafkaProviders(config: KafkaConfig, clientId: string, retry?: RetryOptions): Provider[] {
  const logger = new Logger('kafka');
  return [
    { provide: 'KAFKA_PARTITIONS', useValue: config.KAFKA_PARTITIONS },
    ProducerService,
    {
      provide: KAFKA,
      useFactory: () =>
        createKafka(
          config,
          clientId,
          (level, message, extra) => {
            const line = `${message} ${JSON.stringify(extra)}`;
            if (level === 'error') logger.error(line);
            else if (level === 'warn') logger.warn(line);
            else logger.debug(line);
          },
          retry,
        ),
    },
    { provide: KafkaProbe, inject: [KAFKA], useFactory: (kafka: Kafka) => new KafkaProbe(kafka) },
    {
      provide: KAFKA_READY,
      inject: [KafkaProbe],
      useFactory: (probe: KafkaProbe): ReadinessCheck => ({
        name: 'kafka',
        timeoutMs: CHECK_TIMEOUT_MS,
        check: () => probe.check(CHECK_TIMEOUT_MS),
      }),
    },
  ];
}

/** The process's one idempotent producer, connected in the background and flushed on shutdown. */
@Injectable()
export class ProducerService implements OnModuleInit, OnApplicationShutdown {
  readonly producer: BatchingProducer;
  private readonly logger = new Logger(ProducerService.name);
  private stopping = false;

  constructor(
    @Inject(KAFKA) kafka: Kafka,
    metrics: MetricsRegistry,
    @Inject('KAFKA_PARTITIONS') partitions: number,
  ) {
    const latency = metrics.histogram(
      'kafka_produce_duration_seconds',
      'Time from sendBatch to broker acknowledgement',
      KAFKA_DURATION_BUCKETS_SECONDS,
      ['topic', 'outcome'],
    );
    const sizes = metrics.histogram(
      'kafka_produce_batch_size',
      'Records per produced batch and topic',
      BATCH_SIZE_BUCKETS,
      ['topic'],
    );
    const records = metrics.counter('kafka_produced_records_total', 'Records produced', ['topic', 'outcome']);
    const partitionCounts = new Map(topicPlan(partitions).map((t) => [t.name, t.partitions]));
    this.producer = new BatchingProducer(kafka, {
      // Each topic's own count (the dead-letter topic has fewer): a key must map to a real partition.
      partitions: (topic) => partitionCounts.get(topic) ?? partitions,
      metrics: {
        observeSend: (topic, seconds, n, ok) => {
          const outcome = ok ? 'ok' : 'error';
          latency.observe({ topic, outcome }, seconds);
          sizes.observe({ topic }, n);
          records.inc({ topic, outcome }, n);
        },
      },
    });
  }

  onModuleInit(): void {
    void retryUntilConnected(
      'kafka producer',
      () => this.producer.connect(),
      this.logger,
      () => this.stopping,
    );
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    if (this.producer.isConnected) await this.producer.disconnect();
  }
}

/** The PgBouncer-side pool, opened in the background (readiness tells) and closed last. */
@Injectable()
export class DatabaseService implements OnModuleInit, OnApplicationShutdown {
  readonly dataSource: DataSource;
  private readonly logger = new Logger(DatabaseService.name);
  private stopping = false;

  constructor(
    @Inject('DATABASE_CONFIG') config: DatabaseConfig,
    @Inject('APPLICATION_NAME') applicationName: string,
  ) {
    this.dataSource = createDataSource(config, {
      applicationName,
      entities: ENTITIES,
      migrations: MIGRATIONS,
    });
  }

  onModuleInit(): void {
    void retryUntilConnected(
      'database',
      async () => {
        if (!this.dataSource.isInitialized) await this.dataSource.initialize();
      },
      this.logger,
      () => this.stopping,
    );
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}

/** One Redis connection that reconnects by itself; closed on shutdown. */
@Injectable()
export class RedisService implements OnApplicationShutdown {
  readonly redis: Redis;

  constructor(
    @Inject('REDIS_CONFIG') config: RedisConfig,
    @Inject('APPLICATION_NAME') name: string,
    @Inject('REDIS_CLIENT_OPTIONS') options: RedisClientOptions,
  ) {
    this.redis = createRedis(config, name, options);
    this.redis.on('error', () => undefined);
    this.redis.connect().catch(() => undefined);
  }

  onApplicationShutdown(): void {
    this.redis.disconnect();
  }
}

export function databaseProviders(config: DatabaseConfig): Provider[] {
  return [
    { provide: 'DATABASE_CONFIG', useValue: config },
    DatabaseService,
    {
      provide: DATABASE_READY,
      inject: [DatabaseService],
      useFactory: (db: DatabaseService): ReadinessCheck => ({
        name: 'database',
        timeoutMs: CHECK_TIMEOUT_MS,
        check: async () => {
          if (!db.dataSource.isInitialized) throw new Error('database connection pool not initialised');
          await pingDatabase(db.dataSource, CHECK_TIMEOUT_MS);
        },
      }),
    },
  ];
}

export function redisProviders(config: RedisConfig, options: RedisClientOptions = {}): Provider[] {
  return [
    { provide: 'REDIS_CONFIG', useValue: config },
    { provide: 'REDIS_CLIENT_OPTIONS', useValue: options },
    RedisService,
    {
      provide: REDIS_READY,
      inject: [RedisService],
      useFactory: (r: RedisService): ReadinessCheck => ({
        name: 'redis',
        timeoutMs: CHECK_TIMEOUT_MS,
        check: () => pingRedis(r.redis, CHECK_TIMEOUT_MS),
      }),
    },
  ];
}
