import {
  Kafka,
  logLevel,
  type Admin,
  type ConsumerConfig,
  type KafkaConfig as KafkaJsConfig,
  type LogEntry,
  type RetryOptions,
} from 'kafkajs';
import type { KafkaConfig } from '@trading/config';

export type KafkaLogSink = (
  level: 'error' | 'warn' | 'info' | 'debug',
  message: string,
  extra: Record<string, unknown>,
) => void;

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

// Partitions are pinned explicitly (murmur2 in ./murmur2), so the v2 partitioner notice is noise.
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';

/** Client-wide retries (connects, metadata, group calls) unless a caller bounds them tighter. */
export const DEFAULT_CLIENT_RETRY: RetryOptions = { initialRetryTime: 100, retries: 8, maxRetryTime: 5000 };

/** Builds the kafkajs client; every Kafka use in the platform goes through this lib. */
export function createKafka(
  config: KafkaConfig,
  clientId: string,
  log?: KafkaLogSink,
  retry: RetryOptions = DEFAULT_CLIENT_RETRY,
): Kafka {
  const options: KafkaJsConfig = {
    clientId: config.KAFKA_CLIENT_ID ?? clientId,
    brokers: config.KAFKA_BROKERS,
    ssl: config.KAFKA_SSL,
    connectionTimeout: 3000,
    requestTimeout: 10000,
    retry,
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...extra } = entry;
        log?.(LEVELS[level] ?? 'info', `kafka: ${message}`, extra);
      },
  };
  if (config.KAFKA_SASL_USERNAME && config.KAFKA_SASL_PASSWORD) {
    options.sasl = {
      mechanism: 'scram-sha-512',
      username: config.KAFKA_SASL_USERNAME,
      password: config.KAFKA_SASL_PASSWORD,
    };
  }
  return new Kafka(options);
}

/**
 * kafkajs's consumer settings plus the patched idle wait (patches/kafkajs+2.2.4.patch,
 * ConsumerGroup#fetch): after a fetch that brought no records, the next one waits for the first
 * byte up to idleMaxWaitTimeInMs instead of polling every maxWaitTimeInMs.
 */
export type PatchedConsumerConfig = ConsumerConfig & { idleMaxWaitTimeInMs?: number };

/** The fetch settings of a consumer of the platform (KAFKA_FETCH_MAX_WAIT_MS, _MIN_BYTES, _IDLE_WAIT_MS). */
export interface FetchOptions {
  maxWaitTimeInMs: number;
  minBytes: number;
  /** Undefined: no idle wait (KAFKA_FETCH_IDLE_WAIT_MS=0). */
  idleMaxWaitTimeInMs?: number;
}

export function fetchOptions(
  config: Pick<KafkaConfig, 'KAFKA_FETCH_MAX_WAIT_MS' | 'KAFKA_FETCH_MIN_BYTES' | 'KAFKA_FETCH_IDLE_WAIT_MS'>,
): FetchOptions {
  return {
    maxWaitTimeInMs: config.KAFKA_FETCH_MAX_WAIT_MS,
    minBytes: config.KAFKA_FETCH_MIN_BYTES,
    idleMaxWaitTimeInMs: config.KAFKA_FETCH_IDLE_WAIT_MS > 0 ? config.KAFKA_FETCH_IDLE_WAIT_MS : undefined,
  };
}

/**
 * The readiness probe of one process: a Metadata request on one admin connection kept open
 * between checks. A fresh admin per check (connect, ApiVersions, Metadata, disconnect every 5 s in
 * every process) cost the broker and the services more than the check itself; after a failed check
 * the connection is dropped, so the next check connects afresh and a broker that refuses
 * connections fails it at once instead of at the timeout.
 */
export class KafkaProbe {
  private admin: Admin | null = null;
  private connecting: Promise<void> | null = null;

  constructor(private readonly kafka: Pick<Kafka, 'admin'>) {}

  /** Resolves when the cluster answers within the timeout. */
  async check(timeoutMs: number): Promise<void> {
    if (!this.admin) {
      // One attempt per check: the readiness poll is the retry.
      this.admin = this.kafka.admin({ retry: { retries: 0 } });
      this.connecting = this.admin.connect();
    }
    const admin = this.admin;
    const connecting = this.connecting;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        (async () => {
          await connecting;
          await admin.describeCluster();
        })(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`kafka did not answer within ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]);
    } catch (err) {
      if (this.admin === admin) await this.close();
      throw err;
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  /** Closes the probe's connection (shutdown, or after a failed check). */
  async close(): Promise<void> {
    const admin = this.admin;
    this.admin = null;
    this.connecting = null;
    await admin?.disconnect().catch(() => undefined);
  }

  /** Nest calls this on shutdown (the probe is a provider). */
  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }
}
