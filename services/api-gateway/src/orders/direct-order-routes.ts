import { Logger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { ApiKeyAuthService, type AuthenticatedAccount } from '../auth/api-key-auth.service';
import { admitSigned, type AuthenticatedRequest } from '../auth/api-key.guard';
import { replyWithError } from '../errors/gateway-exception.filter';
import { OrdersService, type OrderAck } from './orders.service';

type OrderWrite = (
  orders: OrdersService,
  account: AuthenticatedAccount,
  req: FastifyRequest,
) => Promise<OrderAck>;
const idOf = (req: FastifyRequest): string => (req.params as { id: string }).id;

/** The order writes, by the method and route template OrdersController declares them with. */
export const DIRECT_ORDER_ROUTES: Readonly<Record<string, OrderWrite>> = {
  'POST /v1/orders': (orders, account, req) => orders.place(account, req.body),
  'DELETE /v1/orders/:id': (orders, account, req) => orders.cancel(account, idOf(req)),
  'PATCH /v1/orders/:id': (orders, account, req) => orders.amend(account, idOf(req), req.body),
};

/**
 * The order writes are the gateway's hot path. Nest still registers them from OrdersController
 * (so the route table, the OpenAPI document and the route-template metrics are unchanged), but
 * their Fastify handler is replaced by a direct one: the same ApiKeyAuthService check as
 * ApiKeyGuard, the same OrdersService call, 202, and errors answered by the exception filter's
 * own replyWithError. What runs around them is Fastify's and stays: overload protection and rate
 * limits (onRequest), the JSON body parser with its size and depth limits, the correlation id,
 * request lines and HTTP metrics. Skipped: Nest's guard/pipe/interceptor/filter machinery per
 * request (about a tenth of the CPU per order). Boot fails if a route was not found.
 */
export function installDirectOrderRoutes(app: NestFastifyApplication): void {
  // Typed with our fastify: @nestjs/platform-fastify carries its own copy's types.
  const fastify = app.getHttpAdapter().getInstance() as unknown as FastifyInstance;
  const auth = app.get(ApiKeyAuthService);
  const orders = app.get(OrdersService);
  const logger = new Logger('errors');
  const replaced = new Set<string>();

  fastify.addHook('onRoute', (route: RouteOptions) => {
    if (Array.isArray(route.method)) return;
    const key = `${route.method} ${route.url}`;
    const write = DIRECT_ORDER_ROUTES[key];
    if (!write) return;
    route.handler = async (req: FastifyRequest, reply: FastifyReply): Promise<OrderAck | FastifyReply> => {
      try {
        const account = await admitSigned(auth, req as AuthenticatedRequest, reply);
        const ack = await write(orders, account, req);
        void reply.code(202);
        return ack;
      } catch (err) {
        replyWithError(reply, err, logger);
        return reply;
      }
    };
    replaced.add(key);
  });
  fastify.addHook('onReady', (done: (err?: Error) => void) => {
    const missing = Object.keys(DIRECT_ORDER_ROUTES).filter((k) => !replaced.has(k));
    done(
      missing.length ? new Error(`order routes not registered by Nest: ${missing.join(', ')}`) : undefined,
    );
  });
}
