import { sampleMarketSpec } from '@trading/contracts';
import type { OrderQueriesRepository } from '@trading/db';
import { MetricsRegistry } from '@trading/metrics';
import type { DatabaseService, ProducerService, RedisService } from '@trading/nest-common';
import type { ApiGatewayConfig } from '../api-gateway.config';
import { GatewayMetrics } from '../common/gateway.metrics';
import { ErrorCode, GatewayException } from '../errors/gateway.exception';
import type { MarketLookupService } from '../markets/market-lookup.service';
import { clientOrderIdToOrderId, OrdersService } from './orders.service';

const market = sampleMarketSpec();
const account = { accountId: 'acct-1', keyId: 'ak_1' };
const body = {
  symbol: 'BTC-USDT',
  side: 'buy',
  type: 'limit',
  price: '100',
  quantity: '1',
  clientOrderId: 'c-1',
};

/** An order row as OrderQueriesRepository.findOwn returns it (only the fields the service reads). */
const row = (orderId: string, status: string) => ({
  orderId,
  accountId: 'acct-1',
  symbol: 'BTC-USDT',
  orderType: 'limit',
  clientOrderId: null,
  status,
});

function setup(
  opts: {
    send?: () => Promise<void>;
    connected?: boolean;
    rows?: ReturnType<typeof row>[];
  } = {},
) {
  // Redis holds only the best-effort accepted-order records.
  const store = new Map<string, string>();
  const redis = {
    status: 'ready',
    set: jest.fn((k: string, v: string, ...opts: unknown[]) => {
      if (opts.includes('NX') && store.has(k)) return Promise.resolve(null);
      store.set(k, v);
      return Promise.resolve('OK');
    }),
    get: jest.fn((k: string) => Promise.resolve(store.get(k) ?? null)),
    del: jest.fn((k: string) => Promise.resolve(store.delete(k) ? 1 : 0)),
  };
  const send = jest.fn(opts.send ?? (() => Promise.resolve()));
  const producer = { producer: { isConnected: opts.connected ?? true, send } } as unknown as ProducerService;
  const metrics = new GatewayMetrics(new MetricsRegistry('test', '0'));
  const dataSource = { isInitialized: true };
  const findOwn = jest.fn((accountId: string, orderId: string) =>
    Promise.resolve(opts.rows?.find((r) => r.orderId === orderId && r.accountId === accountId) ?? null),
  );
  const service = new OrdersService(
    producer,
    { redis } as unknown as RedisService,
    { dataSource } as unknown as DatabaseService,
    { findOwn } as unknown as OrderQueriesRepository,
    { find: () => Promise.resolve(market) } as unknown as MarketLookupService,
    metrics,
    { ORDER_ACK_TIMEOUT_MS: 200 } as ApiGatewayConfig,
  );
  return { service, send, metrics, store, redis, dataSource, findOwn };
}

const sentCommands = (send: jest.Mock) =>
  (send.mock.calls as unknown[][]).map((c) => (c[0] as { value: Record<string, unknown> }).value);

async function lookups(metrics: GatewayMetrics): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await metrics.orderLookups.get()).values)
    out[`${String(v.labels.command)}:${String(v.labels.source)}`] = v.value;
  return out;
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

  it('sends a clientOrderId retry again under the same order id, for the router to keep one', async () => {
    const { service, send } = setup();
    const first = await service.place(account, body);
    const second = await service.place(account, body);
    expect(second.orderId).toBe(first.orderId);
    expect(first.orderId).toBe(clientOrderIdToOrderId('acct-1', 'c-1'));
    const sent = (send.mock.calls as unknown[][]).map((c) => (c[0] as { value: { orderId: string } }).value);
    expect(sent.map((v) => v.orderId)).toEqual([first.orderId, first.orderId]);
  });

  it('refuses a clientOrderId reused with other fields (409), sending nothing and keeping the record', async () => {
    const { service, send, store } = setup();
    const { orderId } = await service.place(account, body);
    const record = store.get(`accepted:${orderId}`);
    // (One market here: another symbol is scripts/idempotency.int-spec.ts.)
    for (const changed of [
      { side: 'sell' },
      { price: '5000' },
      { quantity: '2' },
      { postOnly: true },
      { timeInForce: 'IOC' },
    ]) {
      const err = await failure(service.place(account, { ...body, ...changed }));
      expect([err.status, err.code, err.field]).toEqual([
        409,
        ErrorCode.IDEMPOTENCY_KEY_REUSED,
        'clientOrderId',
      ]);
    }
    expect(store.get(`accepted:${orderId}`)).toBe(record);
    expect(sentCommands(send)).toHaveLength(1);
    // The same order written otherwise is the same order.
    const same = await service.place(account, {
      ...body,
      price: '100.00',
      quantity: '1.0',
      timeInForce: 'GTC',
    });
    expect(same.orderId).toBe(orderId);
    expect(sentCommands(send)).toHaveLength(2);
    expect(store.get(`accepted:${orderId}`)).toBe(record);
  });

  it('asks the stored order when no record is left: other fields 409, no record written', async () => {
    const orderId = clientOrderIdToOrderId('acct-1', 'c-1');
    const stored = {
      ...row(orderId, 'new'),
      side: 'buy',
      tif: 'GTC',
      postOnly: false,
      stopPrice: null,
      displayQty: null,
      price: '999', // amended since: not compared
      qty: '1',
    };
    const { service, send, store } = setup({ rows: [stored as ReturnType<typeof row>] });
    const err = await failure(service.place(account, { ...body, side: 'sell' }));
    expect([err.status, err.code]).toEqual([409, ErrorCode.IDEMPOTENCY_KEY_REUSED]);
    expect(store.size).toBe(0);
    expect(send).not.toHaveBeenCalled();
    expect((await service.place(account, body)).orderId).toBe(orderId);
  });

  it('does not count fields derived from the book (Binance market buys) in a retry’s sameness', async () => {
    const { service, send } = setup();
    const buy = { ...body, type: 'market', price: undefined, clientOrderId: 'm-1' };
    const first = await service.place(account, { ...buy, protectionPrice: '101' }, 1, {
      protectionPrice: true,
    });
    // The book moved: the same request derives another bound, and is still the same order.
    const again = await service.place(account, { ...buy, protectionPrice: '102' }, 2, {
      protectionPrice: true,
    });
    expect(again.orderId).toBe(first.orderId);
    // A quantity the client chose is the client's: another one is another order.
    const err = await failure(service.place(account, { ...buy, quantity: '2', protectionPrice: '101' }, 3));
    expect(err.code).toBe(ErrorCode.IDEMPOTENCY_KEY_REUSED);
    expect(sentCommands(send).length).toBe(2);
  });

  it('derives distinct UUID-shaped order ids per account and clientOrderId', () => {
    const ids = [
      clientOrderIdToOrderId('acct-1', 'c-1'),
      clientOrderIdToOrderId('acct-2', 'c-1'),
      clientOrderIdToOrderId('acct-1', 'c-2'),
    ];
    expect(new Set(ids).size).toBe(3);
    for (const id of ids)
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('turns a Kafka failure into 503 Retry-After 1; the retry is the same order', async () => {
    let fail = true;
    const { service, send, metrics } = setup({
      send: () => (fail ? Promise.reject(new Error('broker down')) : Promise.resolve()),
    });
    const err = await failure(service.place(account, body));
    expect([err.code, err.status, err.retryAfterSeconds]).toEqual([ErrorCode.DEPENDENCY_UNAVAILABLE, 503, 1]);
    // Sent but not confirmed: the body names the order to look up (or to retry).
    expect(err.toBody().error).toMatchObject({
      dependency: 'kafka',
      orderId: clientOrderIdToOrderId('acct-1', 'c-1'),
    });
    expect((await metrics.ordersRejected.get()).values).toEqual([
      expect.objectContaining({ labels: { reason: 'DEPENDENCY_UNAVAILABLE' }, value: 1 }),
    ]);
    fail = false;
    const retry = await service.place(account, body);
    const sent = (send.mock.calls as unknown[][]).map((c) => (c[0] as { value: { orderId: string } }).value);
    expect(sent.map((v) => v.orderId)).toEqual([retry.orderId, retry.orderId]);
  });

  it('remembers an accepted or unconfirmed order for an early cancel, and forgets one never sent', async () => {
    let down = false;
    const { service, store } = setup({
      send: () => (down ? Promise.reject(new Error('broker down')) : Promise.resolve()),
    });
    const ack = await service.place(account, body);
    expect(JSON.parse(store.get(`accepted:${ack.orderId}`)!)).toEqual({
      accountId: 'acct-1',
      symbol: 'BTC-USDT',
      orderType: 'limit',
      clientOrderId: 'c-1',
      fp: expect.any(String),
    });
    // Sent but not confirmed: it may stand, so it stays cancellable.
    down = true;
    await failure(service.place(account, { ...body, clientOrderId: 'c-2' }));
    await new Promise((r) => setImmediate(r));
    expect(store.has(`accepted:${clientOrderIdToOrderId('acct-1', 'c-2')}`)).toBe(true);
  });

  it('gives up waiting for an acknowledgement after ORDER_ACK_TIMEOUT_MS and drops it from the queue', async () => {
    const { service, send } = setup({ send: () => new Promise<void>(() => undefined) });
    const before = Date.now();
    expect((await failure(service.place(account, body))).code).toBe(ErrorCode.DEPENDENCY_UNAVAILABLE);
    const { deadline } = (send.mock.calls as unknown as [{ deadline: number }][])[0]![0];
    expect(deadline).toBeGreaterThanOrEqual(before + 200);
    expect(deadline).toBeLessThanOrEqual(Date.now());
  });

  it('answers 503 without producing when the producer is down', async () => {
    const noKafka = setup({ connected: false });
    const err = await failure(noKafka.service.place(account, body));
    expect(err.status).toBe(503);
    // Never sent: nothing to look up, nothing to cancel.
    expect(err.toBody().error.orderId).toBeUndefined();
    expect(noKafka.send).not.toHaveBeenCalled();
    await new Promise((r) => setImmediate(r));
    expect(noKafka.store.size).toBe(0);
  });
});

describe('OrdersService.cancel', () => {
  const other = { accountId: 'acct-2', keyId: 'ak_2' };
  const unknownId = '00000000-0000-4000-8000-000000000001';

  it('answers from the accepted-order record without touching the database', async () => {
    const { service, send, findOwn, dataSource, metrics } = setup();
    const { orderId } = await service.place(account, body);
    findOwn.mockClear(); // the placement asked whether its clientOrderId was stored
    // Even with the database down: the record is all a cancel needs.
    dataSource.isInitialized = false;
    const ack = await service.cancel(account, orderId, 2000);
    expect(ack).toEqual({ orderId, clientOrderId: 'c-1', status: 'cancel_requested' });
    expect(findOwn).not.toHaveBeenCalled();
    expect(sentCommands(send)[1]).toMatchObject({
      kind: 'cancel',
      orderId,
      accountId: 'acct-1',
      symbol: 'BTC-USDT',
      receivedAt: 2000,
    });
    expect(await lookups(metrics)).toEqual({ 'cancel:redis': 1 });
  });

  it('finds no order of another symbol than the one named, and sends nothing', async () => {
    const { service, send } = setup();
    const { orderId } = await service.place(account, body);
    const err = await failure(service.cancel(account, orderId, 2000, 'ETH-USDT'));
    expect(err.code).toBe(ErrorCode.ORDER_NOT_FOUND);
    expect(sentCommands(send).map((c) => c.kind)).toEqual(['place']);
    await expect(service.cancel(account, orderId, 2000, 'BTC-USDT')).resolves.toMatchObject({
      status: 'cancel_requested',
    });
  });

  it('answers 404 for another account’s record, as for another account’s row, and produces nothing', async () => {
    const { service, send, findOwn } = setup();
    const { orderId } = await service.place(account, body);
    findOwn.mockClear();
    const err = await failure(service.cancel(other, orderId));
    expect([err.status, err.code]).toEqual([404, ErrorCode.ORDER_NOT_FOUND]);
    expect(sentCommands(send).map((c) => c.kind)).toEqual(['place']);
    expect(findOwn).not.toHaveBeenCalled();
  });

  it('falls back to the database without a record: open 202, final 409, none 404', async () => {
    const openId = '00000000-0000-4000-8000-00000000000a';
    const filledId = '00000000-0000-4000-8000-00000000000b';
    const { service, send, findOwn, redis, metrics } = setup({
      rows: [row(openId, 'partially_filled'), row(filledId, 'filled')],
    });
    expect(await service.cancel(account, openId)).toMatchObject({
      orderId: openId,
      status: 'cancel_requested',
    });
    expect(sentCommands(send)).toEqual([expect.objectContaining({ kind: 'cancel', orderId: openId })]);
    const final = await failure(service.cancel(account, filledId));
    expect([final.status, final.code, final.message]).toEqual([
      409,
      ErrorCode.ORDER_NOT_OPEN,
      'order is filled',
    ]);
    const none = await failure(service.cancel(account, unknownId));
    expect([none.status, none.code]).toEqual([404, ErrorCode.ORDER_NOT_FOUND]);
    expect(findOwn.mock.calls).toEqual([
      ['acct-1', openId],
      ['acct-1', filledId],
      ['acct-1', unknownId],
    ]);
    // One Redis read per cancel: a missing record is not read again after the database.
    expect(redis.get).toHaveBeenCalledTimes(3);
    expect(sentCommands(send)).toHaveLength(1);
    expect(await lookups(metrics)).toEqual({ 'cancel:database': 3 });
  });

  it('uses the database when Redis is down, and answers 503 redis only when it needs the record', async () => {
    const openId = '00000000-0000-4000-8000-00000000000a';
    const { service, redis, findOwn } = setup({ rows: [row(openId, 'new')] });
    redis.status = 'reconnecting';
    expect(await service.cancel(account, openId)).toMatchObject({
      orderId: openId,
      status: 'cancel_requested',
    });
    expect(findOwn).toHaveBeenCalledTimes(1);
    const err = await failure(service.cancel(account, unknownId));
    expect([err.status, err.retryAfterSeconds]).toEqual([503, 1]);
    expect(err.toBody().error).toMatchObject({ dependency: 'redis' });
    expect(redis.get).not.toHaveBeenCalled();
  });

  it('uses the database when the Redis read fails', async () => {
    const openId = '00000000-0000-4000-8000-00000000000a';
    const { service, redis, findOwn } = setup({ rows: [row(openId, 'new')] });
    redis.get.mockImplementationOnce(() => Promise.reject(new Error('Connection is closed.')));
    expect(await service.cancel(account, openId)).toMatchObject({ status: 'cancel_requested' });
    expect(findOwn).toHaveBeenCalledTimes(1);
  });

  it('keeps amends database-first, the record only for an order not stored yet', async () => {
    const { service, send, findOwn, metrics } = setup();
    const { orderId } = await service.place(account, body);
    expect(await service.amend(account, orderId, { price: '101' })).toMatchObject({
      status: 'amend_requested',
    });
    expect(findOwn).toHaveBeenCalledWith('acct-1', orderId);
    expect(sentCommands(send)[1]).toMatchObject({ kind: 'amend', orderId, price: 10100 });
    expect(await lookups(metrics)).toEqual({ 'amend:database': 1 });
  });
});
