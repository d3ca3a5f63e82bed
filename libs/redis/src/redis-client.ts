import type { Socket } from 'node:net';
import Redis, { type RedisOptions } from 'ioredis';
import type { RedisConfig } from '@trading/config';

export interface RedisClientOptions {
  /**
   * ioredis auto-pipelining (default on): commands of one event-loop tick share a write. A
   * request-serving process whose commands rarely share a tick (the gateway: one per request
   * step) pays for a Pipeline per command instead; measured ~8 % less gateway CPU without.
   */
  autoPipelining?: boolean;
  /**
   * Commands sent during one turn of the event loop leave in one `writev` (default off): the
   * socket is corked at the turn's first command and uncorked by `setImmediate`, after the turn's
   * I/O callbacks. For a process that sends one command per request step (the gateway) this keeps
   * auto-pipelining's saving, fewer write syscalls (on loopback each one also runs Redis's side of
   * the TCP stack), without its Pipeline object per command. Costs at most one loop turn of delay.
   */
  coalesceWrites?: boolean;
}

/** REDIS_SENTINELS as ioredis wants them. */
export function parseSentinels(list: string): { host: string; port: number }[] {
  return list.split(',').map((hp) => {
    const i = hp.lastIndexOf(':');
    return { host: hp.slice(0, i), port: Number(hp.slice(i + 1)) };
  });
}

/** The options of a connection: to REDIS_URL, or to the primary the sentinels name. */
export function redisOptions(
  config: RedisConfig,
  name: string,
  options: RedisClientOptions = {},
): RedisOptions {
  const common: RedisOptions = {
    password: config.REDIS_PASSWORD,
    connectionName: name,
    keepAlive: 60_000,
    lazyConnect: true,
    enableAutoPipelining: options.autoPipelining ?? true,
    maxRetriesPerRequest: 2,
    // Reconnect forever with capped backoff: a Redis restart must heal by itself.
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
  };
  if (!config.REDIS_SENTINELS) return common;
  const url = new URL(config.REDIS_URL);
  return {
    ...common,
    sentinels: parseSentinels(config.REDIS_SENTINELS),
    name: config.REDIS_SENTINEL_NAME,
    role: 'master',
    db: Number(url.pathname.slice(1) || 0),
    sentinelPassword: config.REDIS_SENTINEL_PASSWORD,
    ...(url.protocol === 'rediss:' ? { tls: {}, enableTLSForSentinelMode: true } : {}),
    // A failover the sentinels announce (+switch-master) moves the connection at once, instead
    // of when the old primary's socket fails; a primary demoted to replica (READONLY) too.
    failoverDetector: true,
    reconnectOnError: (err) => err.message.startsWith('READONLY'),
    sentinelRetryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
  };
}

/** One ioredis connection; TCP keepalive stays below Swarm's 900 s idle cut. */
export function createRedis(config: RedisConfig, name: string, options: RedisClientOptions = {}): Redis {
  const redis = config.REDIS_SENTINELS
    ? new Redis(redisOptions(config, name, options))
    : new Redis(config.REDIS_URL, redisOptions(config, name, options));
  if (options.coalesceWrites) redis.on('connect', () => coalesceWrites(redis.stream as Socket));
  return redis;
}

/** See RedisClientOptions.coalesceWrites; applied to each new connection's socket. */
export function coalesceWrites(socket: Socket): void {
  const write = socket.write;
  let corked = false;
  const uncork = (): void => {
    corked = false;
    socket.uncork();
  };
  socket.write = function (this: Socket, ...args: Parameters<Socket['write']>): boolean {
    if (!corked) {
      corked = true;
      socket.cork();
      setImmediate(uncork);
    }
    return write.apply(this, args);
  } as Socket['write'];
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
