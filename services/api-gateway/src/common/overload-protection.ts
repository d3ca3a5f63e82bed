import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type Redis from 'ioredis';
import { SIGNATURE_HEADERS } from '@trading/contracts';
import { RedisService } from '@trading/nest-common';
import type { ApiGatewayConfig } from '../api-gateway.config';
import { nonceKey } from '../auth/api-key-auth.service';
import { header, type AuthenticatedRequest } from '../auth/api-key.guard';
import { ErrorCode, GatewayException } from '../errors/gateway.exception';
import { GatewayMetrics } from './gateway.metrics';

// One fixed one-second window per key, counted atomically in Redis so every gateway replica
// shares the limit. Every key of a request (per IP, per API key) in one round trip, and with them
// the signature's nonce (the last key, if ARGV[2] is set): claimed only if no limit is exceeded,
// so a request refused with 429 can be sent again as it was. Returns the counts, then 1 if the
// nonce was unused, 0 if it was used already, -1 if it was not tried.
// KEYS: window keys..., [nonce key]; ARGV: window ms, nonce ttl ms or '', limits...
const WINDOW_SCRIPT = `
local windows = #KEYS
if ARGV[2] ~= '' then windows = windows - 1 end
local out = {}
local limited = false
for i = 1, windows do
  local n = redis.call('INCR', KEYS[i])
  if n == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
  out[i] = n
  if n > tonumber(ARGV[2 + i]) then limited = true end
end
if ARGV[2] ~= '' then
  if limited then
    out[windows + 1] = -1
  elseif redis.call('SET', KEYS[windows + 1], '1', 'PX', ARGV[2], 'NX') then
    out[windows + 1] = 1
  else
    out[windows + 1] = 0
  end
end
return out`;

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
    const apiKey = header(req, SIGNATURE_HEADERS.apiKey);
    const checks: [string, number, string][] = [
      [`rl:ip:${req.ip}:${second}`, config.RATE_LIMIT_PER_IP, 'ip'],
    ];
    const keyed = apiKey !== undefined && apiKey.length <= 64;
    if (keyed) checks.push([`rl:key:${apiKey}:${second}`, config.RATE_LIMIT_PER_KEY, 'key']);
    // A signed request's nonce is claimed here too (one round trip instead of two); authenticate
    // still verifies the signature before it trusts the request, and claims the nonce itself when
    // this did not (Redis not ready, a refused script).
    const signature = keyed ? header(req, SIGNATURE_HEADERS.signature) : undefined;
    const nonce =
      signature !== undefined && signature.length <= 128 ? nonceKey(apiKey!, signature) : undefined;
    if (redis.status !== 'ready') return; // the routes that need Redis answer 503 themselves
    try {
      const keys = checks.map((c) => c[0]);
      if (nonce) keys.push(nonce);
      const counts = await redis.rateWindows(
        keys.length,
        ...keys,
        2000,
        nonce ? config.SIGNATURE_WINDOW_MS * 2 : '',
        ...checks.map((c) => c[1]),
      );
      if (nonce && counts[checks.length] >= 0)
        (req as AuthenticatedRequest).nonce = counts[checks.length] === 1 ? 'fresh' : 'replayed';
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
