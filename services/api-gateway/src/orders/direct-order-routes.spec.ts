import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import Fastify, { type FastifyInstance } from 'fastify';
import { ApiKeyAuthService, type SignedRequest } from '../auth/api-key-auth.service';
import { DependencyUnavailableError, ErrorCode, GatewayException } from '../errors/gateway.exception';
import { installDirectOrderRoutes } from './direct-order-routes';
import { OrdersService } from './orders.service';

// The direct handlers against fakes of the auth and order services: what Nest registered is
// replaced, and every outcome answers exactly as the Nest chain (guard + exception filter) did.

const ACCOUNT = { accountId: 'acc-1', keyId: 'k1' };

function harness() {
  const signed: SignedRequest[] = [];
  const calls: unknown[][] = [];
  const auth = {
    admit: jest.fn(async (req: SignedRequest) => {
      signed.push(req);
      if (req.apiKey !== 'k1')
        throw new GatewayException(ErrorCode.INVALID_API_KEY, 'unknown or revoked API key');
      if (req.signature === 'replayed')
        throw new GatewayException(ErrorCode.REPLAYED_REQUEST, 'this signed request was already used');
      return { account: ACCOUNT, limit: 1000, remaining: 999 };
    }),
  };
  const orders = {
    place: jest.fn(async (account: unknown, body: unknown) => {
      calls.push(['place', account, body]);
      if ((body as { symbol?: string }).symbol === 'NOPE-USDT')
        throw new GatewayException(ErrorCode.UNKNOWN_SYMBOL, 'unknown symbol NOPE-USDT', 'symbol');
      return { orderId: 'o-1', clientOrderId: null, status: 'pending' };
    }),
    cancel: jest.fn(async (account: unknown, id: string) => {
      calls.push(['cancel', account, id]);
      if (id === 'down') throw new DependencyUnavailableError('kafka', true, id);
      return { orderId: id, clientOrderId: null, status: 'cancel_requested' };
    }),
    amend: jest.fn(async (account: unknown, id: string, body: unknown) => {
      calls.push(['amend', account, id, body]);
      throw new TypeError('a bug');
    }),
  };
  return { signed, calls, auth, orders };
}

async function gateway(
  h: ReturnType<typeof harness>,
  routes = ['POST /v1/orders', 'DELETE /v1/orders/:id', 'PATCH /v1/orders/:id'],
): Promise<FastifyInstance> {
  const fastify = Fastify();
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    (req as unknown as { rawBody: string }).rawBody = body as string;
    done(null, body === '' ? undefined : JSON.parse(body as string));
  });
  const app = {
    getHttpAdapter: () => ({ getInstance: () => fastify }),
    get: (token: unknown) =>
      token === ApiKeyAuthService ? h.auth : token === OrdersService ? h.orders : null,
  } as unknown as NestFastifyApplication;
  installDirectOrderRoutes(app);
  // What Nest does at init: register the controller's routes with its own handlers.
  const nest = async () => {
    throw new Error('the Nest handler ran');
  };
  for (const r of routes) {
    const [method, url] = r.split(' ');
    fastify.route({ method, url, handler: nest });
  }
  fastify.get('/v1/orders/:id', async () => ({ via: 'nest' }));
  await fastify.ready();
  return fastify;
}

const signedHeaders = (key = 'k1', signature = 'abc') => ({
  'content-type': 'application/json',
  'x-api-key': key,
  'x-api-timestamp': '1700000000000',
  'x-api-signature': signature,
});

describe('direct order routes', () => {
  it('places with 202, authenticating exactly what the client sent', async () => {
    const h = harness();
    const app = await gateway(h);
    const payload = '{"symbol":"BTC-USDT","side":"buy"}';
    const res = await app.inject({
      method: 'POST',
      url: '/v1/orders?x=1',
      headers: signedHeaders(),
      payload,
    });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ orderId: 'o-1', clientOrderId: null, status: 'pending' });
    expect(h.signed[0]).toEqual({
      apiKey: 'k1',
      timestamp: '1700000000000',
      signature: 'abc',
      method: 'POST',
      pathWithQuery: '/v1/orders?x=1',
      body: payload,
    });
    expect(h.calls).toEqual([['place', ACCOUNT, { symbol: 'BTC-USDT', side: 'buy' }]]);
    // Routes that were not replaced keep their own handler.
    expect((await app.inject({ method: 'GET', url: '/v1/orders/o-1' })).json()).toEqual({ via: 'nest' });
    await app.close();
  });

  it('refuses unauthenticated and replayed requests with 401 before touching the order', async () => {
    const h = harness();
    const app = await gateway(h);
    const unknown = await app.inject({
      method: 'DELETE',
      url: '/v1/orders/o-1',
      headers: signedHeaders('other'),
    });
    expect(unknown.statusCode).toBe(401);
    expect(unknown.json()).toEqual({
      error: { code: 'INVALID_API_KEY', message: 'unknown or revoked API key' },
    });
    const replayed = await app.inject({
      method: 'POST',
      url: '/v1/orders',
      headers: signedHeaders('k1', 'replayed'),
      payload: '{}',
    });
    expect(replayed.statusCode).toBe(401);
    expect(replayed.json().error.code).toBe('REPLAYED_REQUEST');
    expect(h.calls).toEqual([]);
    await app.close();
  });

  it('answers validation errors naming the field, 503 with Retry-After, and 500 without details', async () => {
    const h = harness();
    const app = await gateway(h);
    const bad = await app.inject({
      method: 'POST',
      url: '/v1/orders',
      headers: signedHeaders(),
      payload: '{"symbol":"NOPE-USDT"}',
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toEqual({
      error: { code: 'UNKNOWN_SYMBOL', message: 'unknown symbol NOPE-USDT', field: 'symbol' },
    });

    const down = await app.inject({ method: 'DELETE', url: '/v1/orders/down', headers: signedHeaders() });
    expect(down.statusCode).toBe(503);
    expect(down.headers['retry-after']).toBe('1');
    expect(down.json().error).toMatchObject({
      code: 'DEPENDENCY_UNAVAILABLE',
      dependency: 'kafka',
      orderId: 'down',
    });

    const bug = await app.inject({
      method: 'PATCH',
      url: '/v1/orders/o-2',
      headers: signedHeaders(),
      payload: '{"price":"1"}',
    });
    expect(bug.statusCode).toBe(500);
    expect(bug.json()).toEqual({ error: { code: 'INTERNAL_ERROR', message: 'internal error' } });
    expect(h.calls).toContainEqual(['amend', ACCOUNT, 'o-2', { price: '1' }]);
    await app.close();
  });

  it('fails the boot when Nest did not register one of the order writes', async () => {
    await expect(gateway(harness(), ['POST /v1/orders', 'DELETE /v1/orders/:id'])).rejects.toThrow(
      'order routes not registered by Nest: PATCH /v1/orders/:id',
    );
  });
});
