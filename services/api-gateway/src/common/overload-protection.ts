import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RedisService } from '@trading/nest-common';
import type { ApiGatewayConfig } from '../api-gateway.config';
import { ErrorCode, GatewayException } from '../errors/gateway.exception';
import { GatewayMetrics } from './gateway.metrics';
import { countIpWindow } from './rate-windows';

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
 * A request's in-flight slot. It is given back exactly once: when the response is sent, or when
 * the client goes away first. A client that leaves while its body is still being read frees the
 * slot at once (nothing runs for it); one that leaves while its handler runs frees it when the
 * handler answers, because that work still goes on.
 */
interface Slot {
  released: boolean;
  /** The route's handler has started and has not answered yet. */
  handling: boolean;
  /** The client closed the connection before the response was sent. */
  aborted: boolean;
}
type SlotRequest = FastifyRequest & { slot?: Slot };

/**
 * Load shedding before any work: a bounded number of requests in flight (503 beyond, so latency
 * cannot grow without bound) and a per-IP rate limit (429 with the limit in headers). The per-key
 * limit is counted once a request's signature has verified (ApiKeyAuthService.admit), so nobody
 * can spend another key's budget by sending its id.
 */
export function installOverloadProtection(app: NestFastifyApplication, config: ApiGatewayConfig): void {
  // Typed with our fastify: @nestjs/platform-fastify carries its own copy's types.
  const fastify = app.getHttpAdapter().getInstance() as unknown as FastifyInstance;
  const redis = app.get(RedisService).redis;
  const metrics = app.get(GatewayMetrics);
  let inFlight = 0;
  const release = (req: SlotRequest): void => {
    const slot = req.slot;
    if (!slot || slot.released) return;
    slot.released = true;
    inFlight--;
  };

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
    (req as SlotRequest).slot = { released: false, handling: false, aborted: false };
    if (redis.status !== 'ready') return; // the routes that need Redis answer 503 themselves
    try {
      // req.ip is the socket's address unless it is a proxy listed in TRUSTED_PROXIES.
      const used = await countIpWindow(redis, req.ip, Date.now());
      const limit = config.RATE_LIMIT_PER_IP;
      if (used > limit) {
        metrics.shed.inc({ reason: 'rate_ip' });
        return refuse(
          reply,
          new GatewayException(
            ErrorCode.RATE_LIMITED,
            `rate limit of ${limit} requests per second per ip exceeded`,
            undefined,
            1,
          ),
          { 'x-ratelimit-limit': String(limit), 'x-ratelimit-remaining': '0', 'x-ratelimit-scope': 'ip' },
        );
      }
    } catch {
      // A Redis hiccup must not turn into refusals of good traffic.
    }
  });
  fastify.addHook('preHandler', async (req: FastifyRequest) => {
    const slot = (req as SlotRequest).slot;
    if (slot) slot.handling = true;
  });
  fastify.addHook('onSend', async (req: FastifyRequest) => {
    const slot = (req as SlotRequest).slot;
    if (!slot) return;
    slot.handling = false;
    // The client left while the handler worked: no response will complete, the work is done.
    if (slot.aborted) release(req);
  });
  fastify.addHook('onRequestAbort', async (req: FastifyRequest) => {
    const slot = (req as SlotRequest).slot;
    if (!slot) return;
    slot.aborted = true;
    if (!slot.handling) release(req);
  });
  fastify.addHook('onResponse', async (req: FastifyRequest) => release(req));
}
