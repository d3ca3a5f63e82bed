import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { ExchangeClient, type ApiResponse, type Credentials } from './testing/exchange-client';
import {
  ensureServices,
  infraPid,
  infraUp,
  GATEWAY_URL,
  secret,
  SERVICE_PORTS,
  type RunningServices,
} from './testing/native-services';
import { openTestMarket } from './testing/test-market';

// Degraded dependencies on the native stack: Redis, PgBouncer and Kafka are SIGKILLed in turn
// under a running platform. While one is down the gateway answers 503 + Retry-After naming it
// (never a 500), /health/ready is 503 and names it, and no order is half-accepted; when
// `native/infra.sh up` brings it back every service recovers by itself (no restart), a retried
// clientOrderId is accepted exactly once, and a crossing order trades and settles end to end.
const api = new ExchangeClient(GATEWAY_URL);
const run = randomUUID().replace(/-/g, '').slice(0, 6).toUpperCase();
const symbol = `D${run}-USDT`;
const base = `D${run}`;
const RECOVERY_TIMEOUT_MS = 120_000;

type Json = Record<string, unknown>;
type Dependency = 'redis' | 'pgbouncer' | 'kafka';

function kill(name: Dependency): void {
  // Redis down means every node of it: the primary alone is failed over by the sentinels
  // (scripts/redis-failover.int-spec.ts); both at once leave nothing to fail over to.
  const names = name === 'redis' ? ['redis', 'redis-replica'] : [name];
  const pids = names.map(infraPid);
  for (const pid of pids) process.kill(pid, 'SIGKILL');
}

async function readiness(port: number): Promise<{ status: number; body: Json }> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/health/ready`);
    return { status: res.status, body: (await res.json()) as Json };
  } catch {
    return { status: 0, body: {} };
  }
}

/** Every service ready again, without having been restarted. */
async function allReady(): Promise<number> {
  const started = Date.now();
  await api.until(
    'every service ready',
    async () => {
      for (const port of Object.values(SERVICE_PORTS))
        if ((await readiness(port)).status !== 200) return undefined;
      return true;
    },
    RECOVERY_TIMEOUT_MS,
  );
  return Date.now() - started;
}

async function metric(port: number, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

function expectUnavailable(res: ApiResponse<unknown>, dependency: string): void {
  expect({ status: res.status, body: res.body }).toEqual({
    status: 503,
    body: { error: expect.objectContaining({ code: 'DEPENDENCY_UNAVAILABLE', dependency }) },
  });
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
}

describe('degraded dependencies', () => {
  jest.setTimeout(240_000);
  let services: RunningServices;
  let db: DataSource;
  let operator: string;
  let seller: Credentials;
  let buyer: Credentials;
  const figures: Record<string, Record<string, number>> = {};

  const buy = (who: Credentials, price: string, quantity: string, clientOrderId?: string) =>
    api.signed<Json>(who, 'POST', '/v1/orders', {
      symbol,
      side: 'buy',
      type: 'limit',
      price,
      quantity,
      ...(clientOrderId ? { clientOrderId } : {}),
    });
  const ordersWithCoid = async (clientOrderId: string): Promise<string[]> =>
    (
      (await db.query(`SELECT order_id FROM orders WHERE client_order_id = $1`, [clientOrderId])) as {
        order_id: string;
      }[]
    ).map((r) => r.order_id);
  const orderStatus = async (who: Credentials, orderId: string): Promise<string | undefined> => {
    const r = await api.signed<Json>(who, 'GET', `/v1/orders/${orderId}`);
    return r.status === 200 ? String(r.body.status) : undefined;
  };
  const newKey = async (accountId: string): Promise<Credentials> => {
    const res = await api.operator<{ apiKey: string; secret: string }>(
      operator,
      'POST',
      '/v1/operator/accounts',
      {
        accountId,
        name: accountId,
      },
    );
    expect(res.status).toBe(201);
    return { apiKey: res.body.apiKey, secret: res.body.secret };
  };

  /** After recovery: the retried clientOrderId is accepted once, and only then exists. */
  const retryExactlyOnce = async (clientOrderId: string): Promise<void> => {
    expect(await ordersWithCoid(clientOrderId)).toEqual([]);
    const first = await buy(buyer, '1.00', '1', clientOrderId);
    const again = await buy(buyer, '1.00', '1', clientOrderId);
    expect([first.status, again.status]).toEqual([202, 202]);
    expect(again.body.orderId).toBe(first.body.orderId);
    await api.until('retried order persisted', async () =>
      (await orderStatus(buyer, String(first.body.orderId))) === 'new' ? true : undefined,
    );
    expect(await ordersWithCoid(clientOrderId)).toEqual([first.body.orderId]);
  };

  beforeAll(async () => {
    services = await ensureServices();
    operator = secret('operator_token');
    db = await openTestMarket('degraded', symbol, base);
    seller = await newKey(`deg-seller-${run}`);
    buyer = await newKey(`deg-buyer-${run}`);
    for (const [accountId, asset, amount] of [
      [`deg-seller-${run}`, base, '10'],
      [`deg-buyer-${run}`, 'USDT', '10000'],
    ])
      expect(
        (await api.operator(operator, 'POST', '/v1/operator/deposits', { accountId, asset, amount })).status,
      ).toBe(202);
    await api.until('deposits applied', async () => {
      const res = await api.signed<{ data: { asset: string }[] }>(buyer, 'GET', '/v1/balances');
      return res.body.data?.some((b) => b.asset === 'USDT') ? true : undefined;
    });
    await api.marketsListed([symbol]);
  });

  afterAll(async () => {
    // Whatever failed above, the next test file finds the infrastructure up.
    infraUp();
    await allReady().catch(() => undefined);
    await db?.destroy();
    await services?.stop();
    console.log(`degraded-dependency recovery figures (ms): ${JSON.stringify(figures)}`);
  });

  it('Redis down: 503 naming redis on orders and market reads, readiness false, then recovery', async () => {
    const coid = `r-${run}`;
    kill('redis');
    const ready = await api.until('gateway not ready', async () => {
      const r = await readiness(SERVICE_PORTS['api-gateway']);
      return r.status === 503 ? r : undefined;
    });
    expect(ready.body).toMatchObject({ error: { redis: { status: 'down' } } });

    expectUnavailable(await buy(buyer, '1.00', '1', coid), 'redis');
    expectUnavailable(await api.public(`/v1/markets/${symbol}/depth`), 'redis');

    const restart = infraUp();
    const recovered = await allReady();
    figures.redis = { restart, servicesReadyAfterRestart: recovered };
    await retryExactlyOnce(coid);
  });

  it('PgBouncer down: 503 naming the database, accepted orders wait in Kafka and are applied once after', async () => {
    const coid = `p-${run}`;
    // A key the gateway has never seen must be looked up in the database; the buyer's is cached.
    const fresh = await newKey(`deg-fresh-${run}`);
    expect((await api.signed(buyer, 'GET', '/v1/balances')).status).toBe(200);
    const retriesBefore = await metric(
      SERVICE_PORTS['order-router'],
      'consumer_retries_total',
      'topic="orders.commands.v1"',
    );
    kill('pgbouncer');
    const ready = await api.until('gateway not ready', async () => {
      const r = await readiness(SERVICE_PORTS['api-gateway']);
      return r.status === 503 ? r : undefined;
    });
    expect(ready.body).toMatchObject({ error: { database: { status: 'down' } } });

    expectUnavailable(
      await api.signed(fresh, 'POST', '/v1/orders', {
        symbol,
        side: 'buy',
        type: 'limit',
        price: '1.00',
        quantity: '1',
        clientOrderId: coid,
      }),
      'database',
    );
    expectUnavailable(await api.signed(buyer, 'GET', '/v1/orders'), 'database');
    // The gateway needs no database to take an order from a known key: Kafka has it, and the
    // router retries its batch with a backoff until the database is back.
    const queued = await buy(buyer, '1.00', '1', `pq-${run}`);
    expect(queued.status).toBe(202);
    await api.until('order-router retrying', async () =>
      (await metric(SERVICE_PORTS['order-router'], 'consumer_retries_total', 'topic="orders.commands.v1"')) >
      retriesBefore
        ? true
        : undefined,
    );

    const restart = infraUp();
    const recovered = await allReady();
    const applied = Date.now();
    await api.until(
      'order taken during the outage applied',
      async () => ((await orderStatus(buyer, String(queued.body.orderId))) === 'new' ? true : undefined),
      RECOVERY_TIMEOUT_MS,
    );
    figures.pgbouncer = {
      restart,
      servicesReadyAfterRestart: recovered,
      queuedOrderApplied: Date.now() - applied,
    };
    expect(await ordersWithCoid(`pq-${run}`)).toEqual([queued.body.orderId]);
    await retryExactlyOnce(coid);
  });

  it('Kafka down: 503 naming kafka for orders and cancels, nothing half-accepted, the pipeline trades after', async () => {
    const coid = `k-${run}`;
    const ask = await api.signed<Json>(seller, 'POST', '/v1/orders', {
      symbol,
      side: 'sell',
      type: 'limit',
      price: '100.00',
      quantity: '1',
    });
    expect(ask.status).toBe(202);
    await api.until('ask rests', async () =>
      (await orderStatus(seller, String(ask.body.orderId))) === 'new' ? true : undefined,
    );

    const buyerOrders = async (): Promise<number> =>
      Number(
        (
          (await db.query(`SELECT count(*)::int AS n FROM orders WHERE account_id = $1`, [
            `deg-buyer-${run}`,
          ])) as { n: number }[]
        )[0].n,
      );
    const ordersBefore = await buyerOrders();
    kill('kafka');
    const ready = await api.until('gateway not ready', async () => {
      const r = await readiness(SERVICE_PORTS['api-gateway']);
      return r.status === 503 ? r : undefined;
    });
    expect(ready.body).toMatchObject({ error: { kafka: { status: 'down' } } });

    const started = Date.now();
    const refused = await buy(buyer, '1.00', '1', coid);
    const refusedInMs = Date.now() - started;
    expectUnavailable(refused, 'kafka');
    expectUnavailable(await buy(buyer, '1.00', '1'), 'kafka');
    expectUnavailable(await api.signed(seller, 'DELETE', `/v1/orders/${String(ask.body.orderId)}`), 'kafka');
    // Reads do not need Kafka.
    expect((await api.signed(buyer, 'GET', '/v1/balances')).status).toBe(200);

    const restart = infraUp();
    const recovered = await allReady();

    // The pipeline runs again: a crossing order trades against the ask placed before the outage.
    const traded = Date.now();
    const cross = await buy(buyer, '100.00', '0.5');
    expect(cross.status).toBe(202);
    await api.until(
      'crossing order filled',
      async () => ((await orderStatus(buyer, String(cross.body.orderId))) === 'filled' ? true : undefined),
      RECOVERY_TIMEOUT_MS,
    );
    // market-data writes the trade from executions.v1 on its own schedule.
    const trades = await api.until(
      'the trade persisted',
      async () => {
        const rows = (await db.query(`SELECT price::text, qty::text FROM trades WHERE symbol = $1`, [
          symbol,
        ])) as Json[];
        return rows.length > 0 ? rows : undefined;
      },
      RECOVERY_TIMEOUT_MS,
    );
    expect(trades).toEqual([{ price: '10000', qty: '5000' }]);
    await api.until('seller settled', async () => {
      const res = await api.signed<{ data: { asset: string; available: string }[] }>(
        seller,
        'GET',
        '/v1/balances',
      );
      // 0.5 x 100 = 50 USDT less the maker fee (0.1 %).
      return res.body.data.find((b) => b.asset === 'USDT')?.available === '49.95' ? true : undefined;
    });
    figures.kafka = {
      orderRefusedIn: refusedInMs,
      restart,
      servicesReadyAfterRestart: recovered,
      firstTradeAfterReady: Date.now() - traded,
    };

    // Nothing refused during the outage reached the order book afterwards: one new order, the cross.
    expect(await buyerOrders()).toBe(ordersBefore + 1);
    expect(await ordersWithCoid(coid)).toEqual([]);
    await retryExactlyOnce(coid);
  });
});
