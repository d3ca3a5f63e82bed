import { toMarketSpec } from '@trading/contracts';
import type { OrderQueriesRepository } from '@trading/db';
import { MetricsRegistry } from '@trading/metrics';
import type { DatabaseService, ProducerService, RedisService } from '@trading/nest-common';
import type { ApiGatewayConfig } from '../api-gateway.config';
import { GatewayMetrics } from '../common/gateway.metrics';
import { ErrorCode, GatewayException } from '../errors/gateway.exception';
import type { MarketLookupService } from '../markets/market-lookup.service';
import { OrdersService } from './orders.service';

const market = toMarketSpec({
  symbol: 'BTC-USDT',
  baseAsset: 'BTC',
  quoteAsset: 'USDT',
  baseDecimals: 8,
  quoteDecimals: 6,
  tickSize: '0.01',
  lotSize: '0.0001',
  minQtyLots: 1,
  minNotional: '1',
  makerFeeBps: 10,
  takerFeeBps: 20,
  status: 'trading',
});
const account = { accountId: 'acct-1', keyId: 'ak_1' };
const body = {
  symbol: 'BTC-USDT',
  side: 'buy',
  type: 'limit',
  price: '100',
  quantity: '1',
  clientOrderId: 'c-1',
};

function setup(opts: { send?: () => Promise<void>; redisStatus?: string; connected?: boolean } = {}) {
  const store = new Map<string, string>();
  const redis = {
    status: opts.redisStatus ?? 'ready',
    set: jest.fn((k: string, v: string, _ex: string, _ttl: number, mode: 'NX' | 'XX') => {
      if (mode === 'NX' ? store.has(k) : !store.has(k)) return Promise.resolve(null);
      store.set(k, v);
      return Promise.resolve('OK');
    }),
    get: jest.fn((k: string) => Promise.resolve(store.get(k) ?? null)),
    del: jest.fn((k: string) => Promise.resolve(store.delete(k) ? 1 : 0)),
  };
  const send = jest.fn(opts.send ?? (() => Promise.resolve()));
  const producer = { producer: { isConnected: opts.connected ?? true, send } } as unknown as ProducerService;
  const metrics = new GatewayMetrics(new MetricsRegistry('test', '0'));
  const service = new OrdersService(
    producer,
    { redis } as unknown as RedisService,
    { dataSource: { isInitialized: true } } as unknown as DatabaseService,
    {} as OrderQueriesRepository,
    { find: () => Promise.resolve(market) } as unknown as MarketLookupService,
    metrics,
    { ORDER_ACK_TIMEOUT_MS: 200 } as ApiGatewayConfig,
  );
  return { service, send, redis, store, metrics };
}

async function failure(p: Promise<unknown>): Promise<GatewayException> {
  try {
    await p;
  } catch (err) {
    if (err instanceof GatewayException) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

describe('OrdersService.place', () => {
  it('produces one place command keyed by account and answers with its order id', async () => {
    const { service, send } = setup();
    const ack = await service.place(account, body, 1000);
    expect(ack).toEqual({ orderId: expect.any(String), clientOrderId: 'c-1', status: 'pending' });
    expect(send).toHaveBeenCalledTimes(1);
    expect((send.mock.calls as unknown[][])[0]![0]).toMatchObject({
      topic: 'orders.commands.v1',
      key: 'acct-1',
      value: {
        kind: 'place',
        orderId: ack.orderId,
        accountId: 'acct-1',
        price: 10000,
        qty: 10000,
        receivedAt: 1000,
      },
    });
  });

  it('answers a clientOrderId retry with the first order id and no second command', async () => {
    const { service, send } = setup();
    const first = await service.place(account, body);
    const second = await service.place(account, body);
    expect(second.orderId).toBe(first.orderId);
    expect(send).toHaveBeenCalledTimes(1);
  });

  it('turns a Kafka failure into 503 DEPENDENCY_UNAVAILABLE with Retry-After 1', async () => {
    const { service, metrics } = setup({ send: () => Promise.reject(new Error('broker down')) });
    const err = await failure(service.place(account, body));
    expect([err.code, err.status, err.retryAfterSeconds]).toEqual([ErrorCode.DEPENDENCY_UNAVAILABLE, 503, 1]);
    expect(err.toBody().error).toMatchObject({ dependency: 'kafka' });
    expect((await metrics.ordersRejected.get()).values).toEqual([
      expect.objectContaining({ labels: { reason: 'DEPENDENCY_UNAVAILABLE' }, value: 1 }),
    ]);
  });

  it('re-sends the same order id when a clientOrderId retry follows a failed attempt', async () => {
    let down = true;
    const { service, send, store } = setup({
      send: () => (down ? Promise.reject(new Error('broker down')) : Promise.resolve()),
    });
    await failure(service.place(account, body));
    // The failed attempt's order id stays reserved, marked unconfirmed: never a phantom ack.
    const [pending] = [...store.values()];
    expect(pending).toMatch(/^\?[0-9a-f-]{36}$/);
    await failure(service.place(account, body));
    down = false;
    const ack = await service.place(account, body);
    expect(ack.orderId).toBe(pending!.slice(1));
    const orderIds = (send.mock.calls as unknown as [{ value: { orderId: string } }][]).map(
      ([r]) => r.value.orderId,
    );
    expect(new Set(orderIds)).toEqual(new Set([ack.orderId]));
    expect(send).toHaveBeenCalledTimes(3);
    // Acknowledged now: a further retry answers without a command.
    await new Promise((r) => setImmediate(r));
    expect(store.get('coid:acct-1:c-1')).toBe(ack.orderId);
    expect((await service.place(account, body)).orderId).toBe(ack.orderId);
    expect(send).toHaveBeenCalledTimes(3);
  });

  it('gives up waiting for an acknowledgement after ORDER_ACK_TIMEOUT_MS and drops it from the queue', async () => {
    const { service, send } = setup({ send: () => new Promise<void>(() => undefined) });
    const before = Date.now();
    expect((await failure(service.place(account, body))).code).toBe(ErrorCode.DEPENDENCY_UNAVAILABLE);
    const { deadline } = (send.mock.calls as unknown as [{ deadline: number }][])[0]![0];
    expect(deadline).toBeGreaterThanOrEqual(before + 200);
    expect(deadline).toBeLessThanOrEqual(Date.now());
  });

  it('answers 503 without producing when Redis or the producer is down', async () => {
    const noRedis = setup({ redisStatus: 'reconnecting' });
    expect((await failure(noRedis.service.place(account, body))).status).toBe(503);
    expect(noRedis.send).not.toHaveBeenCalled();
    const noKafka = setup({ connected: false });
    expect((await failure(noKafka.service.place(account, body))).status).toBe(503);
    expect(noKafka.redis.set).not.toHaveBeenCalled();
  });
});
