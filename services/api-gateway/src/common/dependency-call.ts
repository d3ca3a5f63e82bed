import { QueryFailedError } from 'typeorm';
import type Redis from 'ioredis';
import type { DataSource } from 'typeorm';
import { GatewayException } from '../errors/gateway.exception';

// SQLSTATE classes that mean "the database is not there" rather than "the query is wrong":
// 08 connection exception, 53 insufficient resources, 57P admin shutdown / cannot connect now.
const UNAVAILABLE_SQLSTATE = /^(08|53|57P)/;

/** Runs a database call; an outage becomes 503, a query bug stays an error (500). */
export async function dbCall<T>(db: DataSource, fn: () => Promise<T>): Promise<T> {
  if (!db.isInitialized) throw GatewayException.unavailable('database');
  try {
    return await fn();
  } catch (err) {
    if (err instanceof QueryFailedError) {
      const code = (err.driverError as { code?: string } | undefined)?.code ?? '';
      if (UNAVAILABLE_SQLSTATE.test(code)) throw GatewayException.unavailable('database');
      throw err;
    }
    if (err instanceof GatewayException) throw err;
    // Connection refused, timeouts, pool exhaustion: not the caller's fault, retryable.
    throw GatewayException.unavailable('database');
  }
}

/** Runs a Redis call; a disconnected client fails fast with 503 instead of queueing. */
export async function redisCall<T>(redis: Redis, fn: () => Promise<T>): Promise<T> {
  if (redis.status !== 'ready') throw GatewayException.unavailable('redis');
  try {
    return await fn();
  } catch (err) {
    if (err instanceof GatewayException) throw err;
    throw GatewayException.unavailable('redis');
  }
}
