import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import type { DataSource } from 'typeorm';
import { loadConfig, redisSchema } from '@trading/config';
import { redisKeys, TOPICS, type OrderCommand } from '@trading/contracts';
import { partitionFor } from '@trading/kafka';
import { createRedis } from '@trading/redis';
import { ExchangeClient, type Credentials, type StreamClient } from './testing/exchange-client';
import { ensureServices, GATEWAY_URL, secret, type RunningServices } from './testing/native-services';
import { openTestMarket } from './testing/test-market';

// Idempotency keys that protect money (issue 18, defects 2 and 3), against the real native
// platform: a clientOrderId or an operator commandId reused with another body is refused (409)
// and changes nothing, at the gateway and, for a command that gets past it, in the order-router,
// whose in-memory balances must never apply what the ledger skips as a duplicate key.
const api = new ExchangeClient(GATEWAY_URL);
const run = randomUUID().replace(/-/g, '').slice(0, 6).toUpperCase();
const symbolA = `IA${run}-USDT`;
const symbolB = `IB${run}-USDT`;
const USDT = 1_000_000n; // USDT has 6 decimals

type Json = Record<string, unknown>;
type ErrorBody = { error?: { code?: string; field?: string } };

describe('idempotency keys (clientOrderId, operator commandId)', () => {
  jest.setTimeout(180_000);
  let services: RunningServices;
  let db: DataSource;
  let dbB: DataSource;
  let operator: string;
  let redis: Redis;
  let kafka: Producer;
  const creds = new Map<string, Credentials>();

  const account = async (name: string, usdt: string): Promise<Credentials> => {
    const accountId = `idem-${name}-${run}`;
    const res = await api.operator<{ apiKey: string; secret: string }>(
      operator,
      'POST',
      '/v1/operator/accounts',
      { accountId, name },
    );
    expect(res.status).toBe(201);
    const c = { apiKey: res.body.apiKey, secret: res.body.secret };
    creds.set(accountId, c);
    const dep = await api.operator(operator, 'POST', '/v1/operator/deposits', {
      accountId,
      asset: 'USDT',
      amount: usdt,
    });
    expect(dep.status).toBe(202);
    await api.until(`deposit for ${name}`, async () =>
      (await balance(c)).available === usdt ? true : undefined,
    );
    return c;
  };

  const balance = async (who: Credentials) =>
    (await api.balance(who, 'USDT')) ?? { asset: 'USDT', available: '0', held: '0' };

  /** USDT balance row and the ledger's sums for it, in units: they must agree. */
  const books = async (accountId: string) => {
    const [row] = (await db.query(
      `SELECT b.available::text AS available, b.held::text AS held,
              (SELECT coalesce(sum(available_delta), 0)::text FROM ledger l WHERE l.account_id = b.account_id AND l.asset = b.asset) AS ledger_available,
              (SELECT coalesce(sum(held_delta), 0)::text FROM ledger l WHERE l.account_id = b.account_id AND l.asset = b.asset) AS ledger_held
       FROM balances b WHERE b.account_id = $1 AND b.asset = 'USDT'`,
      [accountId],
    )) as Record<string, string>[];
    return row;
  };

  /** The order's state once the router decided (not pending, not unknown). */
  const decided = (who: Credentials, orderId: string, timeoutMs = 15_000) =>
    api.until(
      `order ${orderId} decided`,
      async () => {
        const res = await api.signed<{ status?: string; reason?: string }>(
          who,
          'GET',
          `/v1/orders/${orderId}`,
        );
        return res.status === 200 && res.body.status !== 'pending' ? res.body : undefined;
      },
      timeoutMs,
    );

  const statusBecomes = (who: Credentials, orderId: string, status: string, timeoutMs = 10_000) =>
    api
      .until(
        `order ${orderId} ${status}`,
        async () => {
          const res = await api.signed<{ status?: string }>(who, 'GET', `/v1/orders/${orderId}`);
          return res.body.status === status ? status : undefined;
        },
        timeoutMs,
      )
      .catch(
        async () => (await api.signed<{ status?: string }>(who, 'GET', `/v1/orders/${orderId}`)).body.status,
      );

  /** A command straight onto orders.commands.v1, as a gateway that remembered nothing would send it. */
  const produce = async (command: OrderCommand): Promise<void> => {
    await kafka.send({
      topic: TOPICS.orderCommands.name,
      messages: [
        {
          key: command.accountId,
          value: JSON.stringify(command),
          partition: partitionFor(command.accountId, Number(process.env.KAFKA_PARTITIONS ?? 12)),
        },
      ],
    });
  };

  const limitBuy = (symbol: string, price: string, quantity: string, clientOrderId?: string): Json => ({
    symbol,
    side: 'buy',
    type: 'limit',
    price,
    quantity,
    ...(clientOrderId ? { clientOrderId } : {}),
  });

  beforeAll(async () => {
    services = await ensureServices();
    operator = secret('operator_token');
    db = await openTestMarket('idempotency-spec', symbolA, `IA${run}`);
    dbB = await openTestMarket('idempotency-spec-b', symbolB, `IB${run}`);
    // Through the sentinels, as the services: whichever node is the primary now.
    redis = createRedis(loadConfig(redisSchema), 'idempotency-spec');
    await redis.connect();
    kafka = new Kafka({
      clientId: 'idempotency-spec',
      brokers: process.env.KAFKA_BROKERS!.split(','),
      logLevel: logLevel.NOTHING,
    }).producer();
    await kafka.connect();
    await api.marketsListed([symbolA, symbolB]);
  });

  afterAll(async () => {
    await kafka?.disconnect();
    redis?.disconnect();
    await db?.destroy();
    await dbB?.destroy();
    await services?.stop();
  });

  it('refuses a clientOrderId reused with another body (409) and the cancel reaches the real order', async () => {
    const trader = await account('coid', '1000');
    const x = `x-${run}`;
    const placed = await api.signed<{ orderId: string }>(trader, 'POST', '/v1/orders', {
      ...limitBuy(symbolA, '100', '0.1', x),
      postOnly: true,
    });
    expect(placed.status).toBe(202);
    const orderId = placed.body.orderId;
    expect((await decided(trader, orderId)).status).toBe('new');

    // The retry: same clientOrderId, another symbol, side and price.
    const other = await api.signed<ErrorBody>(trader, 'POST', '/v1/orders', {
      symbol: symbolB,
      side: 'sell',
      type: 'limit',
      price: '5000',
      quantity: '0.1',
      clientOrderId: x,
    });
    // The accepted-order record is the first order's, untouched.
    const record = JSON.parse((await redis.get(redisKeys.acceptedOrder(orderId))) ?? '{}') as Json;
    const cancel = await api.signed<{ status: string }>(trader, 'DELETE', `/v1/orders/${orderId}`);
    expect({
      retry: [other.status, other.body.error?.code, other.body.error?.field],
      recordSymbol: record.symbol,
      cancel: cancel.status,
      status: await statusBecomes(trader, orderId, 'cancelled'),
    }).toEqual({
      retry: [409, 'IDEMPOTENCY_KEY_REUSED', 'clientOrderId'],
      recordSymbol: symbolA,
      cancel: 202,
      status: 'cancelled',
    });

    // The identical request again (decimals written differently, defaults spelled out): the same order.
    const same = await api.signed<{ orderId: string }>(trader, 'POST', '/v1/orders', {
      ...limitBuy(symbolA, '100.00', '0.1000', x),
      postOnly: true,
      timeInForce: 'GTC',
    });
    expect([same.status, same.body.orderId]).toEqual([202, orderId]);
  });

  it('compares a reused clientOrderId with the stored order once the Redis record is gone', async () => {
    const trader = await account('coid2', '1000');
    const y = `y-${run}`;
    const placed = await api.signed<{ orderId: string }>(
      trader,
      'POST',
      '/v1/orders',
      limitBuy(symbolA, '90', '0.1', y),
    );
    expect(placed.status).toBe(202);
    const orderId = placed.body.orderId;
    expect((await decided(trader, orderId)).status).toBe('new');
    // As after the record's 10 minutes.
    await redis.del(redisKeys.acceptedOrder(orderId));
    const other = await api.signed<ErrorBody>(trader, 'POST', '/v1/orders', {
      ...limitBuy(symbolB, '90', '0.1', y),
    });
    const cancel = await api.signed(trader, 'DELETE', `/v1/orders/${orderId}`);
    expect({
      retry: [other.status, other.body.error?.code, other.body.error?.field],
      cancel: cancel.status,
      status: await statusBecomes(trader, orderId, 'cancelled'),
    }).toEqual({
      retry: [409, 'IDEMPOTENCY_KEY_REUSED', 'clientOrderId'],
      cancel: 202,
      status: 'cancelled',
    });
  });

  it('refuses a withdrawal commandId reused with another amount; balances and ledger agree', async () => {
    const trader = await account('wd', '1000');
    const accountId = `idem-wd-${run}`;
    const w = `w-${run}`;
    const move = (amount: string) =>
      api.operator<ErrorBody>(operator, 'POST', '/v1/operator/withdrawals', {
        accountId,
        asset: 'USDT',
        amount,
        commandId: w,
      });
    expect((await move('1')).status).toBe(202);
    await api.until('withdrawal applied', async () =>
      (await balance(trader)).available === '999' ? true : undefined,
    );
    const reused = await move('900');
    // The same withdrawal again is the same movement: 202, applied once.
    const again = await move('1.000');
    // An order needing 100.2 USDT (100 + 0.2 taker fee), behind both on the account's partition.
    const placed = await api.signed<{ orderId: string }>(
      trader,
      'POST',
      '/v1/orders',
      limitBuy(symbolA, '100', '1'),
    );
    expect(placed.status).toBe(202);
    const order = await decided(trader, placed.body.orderId);
    expect({
      reused: [reused.status, reused.body.error?.code, reused.body.error?.field],
      again: again.status,
      order: [order.status, order.reason ?? null],
      balance: await balance(trader),
      books: await books(accountId),
    }).toEqual({
      reused: [409, 'IDEMPOTENCY_KEY_REUSED', 'commandId'],
      again: 202,
      order: ['new', null],
      balance: { asset: 'USDT', available: '898.8', held: '100.2' },
      books: {
        available: String((8988n * USDT) / 10n),
        held: String((1002n * USDT) / 10n),
        ledger_available: String((8988n * USDT) / 10n),
        ledger_held: String((1002n * USDT) / 10n),
      },
    });
  });

  it('refuses a deposit commandId reused with another amount at the gateway (409)', async () => {
    const depositor = await account('dep', '1');
    const accountId = `idem-dep-${run}`;
    const d = `d-${run}`;
    const move = (amount: string) =>
      api.operator<ErrorBody>(operator, 'POST', '/v1/operator/deposits', {
        accountId,
        asset: 'USDT',
        amount,
        commandId: d,
      });
    expect((await move('10')).status).toBe(202);
    await api.until('deposit applied', async () =>
      (await balance(depositor)).available === '11' ? true : undefined,
    );
    const reused = await move('1000');
    // Behind it on the partition: an order the phantom 990 would have backed, and one the real 11 backs.
    const phantom = await api.signed<{ orderId: string }>(
      depositor,
      'POST',
      '/v1/orders',
      limitBuy(symbolA, '100', '5'),
    );
    const real = await api.signed<{ orderId: string }>(
      depositor,
      'POST',
      '/v1/orders',
      limitBuy(symbolA, '10', '0.5'),
    );
    expect({
      reused: [reused.status, reused.body.error?.code, reused.body.error?.field],
      phantom: (await decided(depositor, phantom.body.orderId)).reason,
      real: (await decided(depositor, real.body.orderId)).status,
    }).toEqual({
      reused: [409, 'IDEMPOTENCY_KEY_REUSED', 'commandId'],
      phantom: 'INSUFFICIENT_FUNDS',
      real: 'new',
    });
    const b = await books(accountId);
    expect([b.available, b.held]).toEqual([b.ledger_available, b.ledger_held]);
  });

  /** The router's consumer_retries_total for orders.commands.v1: a batch refused by the database. */
  const commandRetries = async (): Promise<number> => {
    const port = Number(process.env.ORDER_ROUTER_PORT ?? 8081);
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    return Number(
      /^consumer_retries_total\{[^}]*topic="orders\.commands\.v1"[^}]*\} (\S+)$/m.exec(text)?.[1] ?? 0,
    );
  };

  it('never applies in the router a withdrawal commandId that got past the gateway with another amount', async () => {
    const trader = await account('rwd', '1000');
    const accountId = `idem-rwd-${run}`;
    const w = `rw-${run}`;
    const withdraw = (amount: bigint): OrderCommand => ({
      kind: 'withdraw',
      commandId: w,
      accountId,
      asset: 'USDT',
      amount: Number(amount),
      receivedAt: Date.now(),
    });
    await produce(withdraw(1n * USDT));
    await api.until('withdrawal applied', async () =>
      (await balance(trader)).available === '999' ? true : undefined,
    );
    await produce(withdraw(900n * USDT));
    await produce(withdraw(1n * USDT));
    const placed = await api.signed<{ orderId: string }>(
      trader,
      'POST',
      '/v1/orders',
      limitBuy(symbolA, '100', '1'),
    );
    const order = await decided(trader, placed.body.orderId);
    const b = await books(accountId);
    expect({ order: [order.status, order.reason ?? null], books: b }).toEqual({
      order: ['new', null],
      books: {
        available: String((8988n * USDT) / 10n),
        held: String((1002n * USDT) / 10n),
        ledger_available: String((8988n * USDT) / 10n),
        ledger_held: String((1002n * USDT) / 10n),
      },
    });
  });

  it('never applies in the router a duplicate commandId that got past the gateway (deposit 10, then 1000 on Kafka)', async () => {
    const depositor = await account('router', '1');
    const accountId = `idem-router-${run}`;
    const stream: StreamClient = api.stream();
    try {
      await stream.auth(depositor);
      await stream.waitFor((m) => m.type === 'authenticated');
      await stream.send({ op: 'subscribe', channel: 'orders' });
      await stream
        .waitFor((m) => m.type === 'subscribed' || m.type === 'snapshot', 5000)
        .catch(() => undefined);
      const d = `r-${run}`;
      const deposit = (amount: bigint): OrderCommand => ({
        kind: 'deposit',
        commandId: d,
        accountId,
        asset: 'USDT',
        amount: Number(amount),
        receivedAt: Date.now(),
      });
      await produce(deposit(10n * USDT));
      await api.until('deposit applied', async () =>
        (await balance(depositor)).available === '11' ? true : undefined,
      );
      // A gateway without the record (Redis lost it) lets both through: the same one, then another amount.
      const retriesBefore = await commandRetries();
      await produce(deposit(10n * USDT));
      await produce(deposit(1000n * USDT));
      const phantom = await api.signed<{ orderId: string }>(
        depositor,
        'POST',
        '/v1/orders',
        limitBuy(symbolA, '100', '5'),
      );
      const real = await api.signed<{ orderId: string }>(
        depositor,
        'POST',
        '/v1/orders',
        limitBuy(symbolA, '10', '0.5'),
      );
      expect({
        phantom: (await decided(depositor, phantom.body.orderId)).reason,
        real: (await decided(depositor, real.body.orderId)).status,
        // No batch refused by balances_available_check and retried (the partition never stalls).
        retries: (await commandRetries()) - retriesBefore,
      }).toEqual({ phantom: 'INSUFFICIENT_FUNDS', real: 'new', retries: 0 });
      // Refused with a reason the account sees; the same body again was acknowledged, not applied.
      const refused = await stream.waitFor(
        (m) =>
          m.channel === 'orders' &&
          (m.data as Json)?.type === 'deposit' &&
          (m.data as Json)?.commandId === d &&
          (m.data as Json)?.status === 'rejected',
        5000,
      );
      expect((refused.data as Json).reason).toBe('IDEMPOTENCY_KEY_REUSED');
      const b = await books(accountId);
      expect(b).toEqual({
        available: String((11n - 5n) * USDT - (5n * USDT) / 500n),
        held: String(5n * USDT + (5n * USDT) / 500n),
        ledger_available: b.available,
        ledger_held: b.held,
      });
      const [ledger] = (await db.query(`SELECT count(*)::int AS n FROM ledger WHERE entry_key = $1`, [
        `deposit:${d}`,
      ])) as { n: number }[];
      expect(ledger.n).toBe(1);
    } finally {
      stream.close();
    }
  });
});
