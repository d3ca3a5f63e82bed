import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type Redis from 'ioredis';
import { SIGNATURE_HEADERS } from '@trading/contracts';
import { RedisService } from '@trading/nest-common';
import type { ApiGatewayConfig } from '../api-gateway.config';
import { ErrorCode, GatewayException } from '../errors/gateway.exception';
import { GatewayMetrics } from './gateway.metrics';

// One fixed one-second window per key, counted atomically in Redis so every gateway replica
// shares the limit. Every key of a request (per IP, per API key) in one round trip.
const WINDOW_SCRIPT = `
local counts = {}
for i, key in ipairs(KEYS) do
  local n = redis.call('INCR', key)
  if n == 1 then redis.call('PEXPIRE', key, ARGV[1]) end
  counts[i] = n
end
return counts`;

interface LimiterCommands {
  rateWindows(keys: number, ...args: (string | number)[]): Promise<number[]>;
}

const EXEMPT = /^\/(health|metrics|docs)/;

async function refuse(
  reply: FastifyReply,
  err: GatewayException,
  headers: Record<string, string> = {},
): Promise<void> {
  if (err.retryAfterSeconds !== undefined) headers['retry-after'] = String(err.retryAfterSeconds);
  await reply.code(err.status).headers(headers).send(err.toBody());
}

/**
 * Load shedding before any work: a bounded number of requests in flight (503 beyond, so latency
 * cannot grow without bound) and per-key / per-IP rate limits (429 with the limit in headers).
 */
export function installOverloadProtection(app: NestFastifyApplication, config: ApiGatewayConfig): void {
  // Typed with our fastify: @nestjs/platform-fastify carries its own copy's types.
  const fastify = app.getHttpAdapter().getInstance() as unknown as FastifyInstance;
  const redis = app.get(RedisService).redis as Redis & LimiterCommands;
  const metrics = app.get(GatewayMetrics);
  redis.defineCommand('rateWindows', { lua: WINDOW_SCRIPT });
  let inFlight = 0;

  fastify.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (EXEMPT.test(req.url)) return;
    if (inFlight >= config.MAX_IN_FLIGHT) {
      metrics.shed.inc({ reason: 'in_flight' });
      return refuse(
        reply,
        new GatewayException(
          ErrorCode.SERVICE_UNAVAILABLE,
          'gateway is at capacity, retry shortly',
          undefined,
          1,
        ),
      );
    }
    inFlight++;
    (req as FastifyRequest & { counted?: boolean }).counted = true;
    const second = Math.floor(Date.now() / 1000);
    const apiKey = req.headers[SIGNATURE_HEADERS.apiKey];
    const checks: [string, number, string][] = [
      [`rl:ip:${req.ip}:${second}`, config.RATE_LIMIT_PER_IP, 'ip'],
    ];
    if (typeof apiKey === 'string' && apiKey.length <= 64)
      checks.push([`rl:key:${apiKey}:${second}`, config.RATE_LIMIT_PER_KEY, 'key']);
    if (redis.status !== 'ready') return; // the routes that need Redis answer 503 themselves
    try {
      const counts = await redis.rateWindows(checks.length, ...checks.map((c) => c[0]), 2000);
      for (let i = 0; i < checks.length; i++) {
        const [, limit, scope] = checks[i];
        const used = counts[i];
        if (used > limit) {
          metrics.shed.inc({ reason: `rate_${scope}` });
          return refuse(
            reply,
            new GatewayException(
              ErrorCode.RATE_LIMITED,
              `rate limit of ${limit} requests per second per ${scope} exceeded`,
              undefined,
              1,
            ),
            {
              'x-ratelimit-limit': String(limit),
              'x-ratelimit-remaining': '0',
              'x-ratelimit-scope': scope,
            },
          );
        }
        if (scope === 'key')
          void reply
            .header('x-ratelimit-limit', String(limit))
            .header('x-ratelimit-remaining', String(limit - used));
      }
    } catch {
      // A Redis hiccup must not turn into refusals of good traffic.
    }
  });
  fastify.addHook('onResponse', async (req: FastifyRequest) => {
    if ((req as FastifyRequest & { counted?: boolean }).counted) inFlight--;
  });
}
