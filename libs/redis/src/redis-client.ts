import Redis from 'ioredis';
import type { RedisConfig } from '@trading/config';

export interface RedisClientOptions {
  /**
   * ioredis auto-pipelining (default on): commands of one event-loop tick share a write. A
   * request-serving process whose commands rarely share a tick (the gateway: one per request
   * step) pays for a Pipeline per command instead; measured ~8 % less gateway CPU without.
   */
  autoPipelining?: boolean;
}

/** One ioredis connection; TCP keepalive stays below Swarm's 900 s idle cut. */
export function createRedis(config: RedisConfig, name: string, options: RedisClientOptions = {}): Redis {
  return new Redis(config.REDIS_URL, {
    password: config.REDIS_PASSWORD,
    connectionName: name,
    keepAlive: 60_000,
    lazyConnect: true,
    enableAutoPipelining: options.autoPipelining ?? true,
    maxRetriesPerRequest: 2,
    // Reconnect forever with capped backoff: a Redis restart must heal by itself.
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
  });
}

/** Resolves when Redis answers PING within the timeout. */
export async function pingRedis(redis: Redis, timeoutMs: number): Promise<void> {
  // A client that is reconnecting would queue the PING until the timeout: say so at once.
  if (redis.status !== 'ready') throw new Error(`redis connection is ${redis.status}`);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.ping(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`redis did not answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}
