import type Redis from 'ioredis';
import type { DataSource } from 'typeorm';
import { isDatabaseOutage, isRedisOutage } from '@trading/nest-common';
import { GatewayException } from '../errors/gateway.exception';

/** Runs a database call; an outage becomes 503 DEPENDENCY_UNAVAILABLE, a query bug stays a 500. */
export async function dbCall<T>(db: DataSource, fn: () => Promise<T>): Promise<T> {
  if (!db.isInitialized) throw GatewayException.dependencyUnavailable('database');
  try {
    return await fn();
  } catch (err) {
    if (err instanceof GatewayException) throw err;
    if (err instanceof Error && err.name === 'QueryFailedError' && !isDatabaseOutage(err)) throw err;
    // Connection refused, timeouts, pool exhaustion, PgBouncer refusals: retryable.
    throw GatewayException.dependencyUnavailable('database');
  }
}

/** Runs a Redis call; a disconnected client fails fast with 503 instead of queueing. */
export async function redisCall<T>(redis: Redis, fn: () => Promise<T>): Promise<T> {
  if (redis.status !== 'ready') throw GatewayException.dependencyUnavailable('redis');
  try {
    return await fn();
  } catch (err) {
    if (err instanceof GatewayException) throw err;
    // A wrong command (ReplyError that is not LOADING/BUSY/...) is our bug, not an outage.
    if (err instanceof Error && err.name === 'ReplyError' && !isRedisOutage(err)) throw err;
    throw GatewayException.dependencyUnavailable('redis');
  }
}
