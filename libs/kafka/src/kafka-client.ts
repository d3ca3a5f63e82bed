import {
  Kafka,
  logLevel,
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

/** The fetch settings of every consumer of the platform (KAFKA_FETCH_MAX_WAIT_MS, _MIN_BYTES). */
export function fetchOptions(
  config: Pick<KafkaConfig, 'KAFKA_FETCH_MAX_WAIT_MS' | 'KAFKA_FETCH_MIN_BYTES'>,
): {
  maxWaitTimeInMs: number;
  minBytes: number;
} {
  return { maxWaitTimeInMs: config.KAFKA_FETCH_MAX_WAIT_MS, minBytes: config.KAFKA_FETCH_MIN_BYTES };
}

/** Resolves when the cluster answers within the timeout; readiness probes use it. */
export async function pingKafka(kafka: Kafka, timeoutMs: number): Promise<void> {
  // One attempt: a broker that refuses connections fails the check at once instead of at the timeout.
  const admin = kafka.admin({ retry: { retries: 0 } });
  const timer = new Promise<never>((_, reject) => {
    setTimeout(() => reject(new Error(`kafka did not answer within ${timeoutMs} ms`)), timeoutMs).unref();
  });
  try {
    await Promise.race([
      (async () => {
        await admin.connect();
        await admin.describeCluster();
      })(),
      timer,
    ]);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
