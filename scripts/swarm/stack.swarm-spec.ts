import { randomUUID } from 'node:crypto';
import { dashboardQueries } from '../testing/dashboards';
import { ExchangeClient, type Credentials, type StreamClient } from '../testing/exchange-client';
import {
  APP_SERVICES,
  GATEWAY_URL,
  listMarket,
  PROMETHEUS_URL,
  reconcile,
  replicas,
  service,
  sql,
  STACK,
  swarmSecret,
  until,
} from '../testing/swarm';

// The platform as operators run it: `npm run swarm -- up` deployed the stack and its monitoring
// overlay on a real single-node Swarm. Traffic goes only to the published ports on 127.0.0.1.
type Json = Record<string, unknown>;
const api = new ExchangeClient(GATEWAY_URL);
const run = randomUUID().replace(/-/g, '').slice(0, 6).toUpperCase();
// A market of its own per run (listed the way an operator does today, in SQL): the book starts
// empty whatever earlier runs left on the same stack.
const base = `S${run}`;
const symbol = `${base}-USDT`;
const log = (msg: string) => process.stdout.write(`[swarm e2e] ${msg}\n`);

async function prometheus<T>(path: string): Promise<T> {
  const res = await fetch(`${PROMETHEUS_URL}${path}`);
  const body = (await res.json()) as { status: string; data: T; error?: string };
  if (body.status !== 'success') throw new Error(`${path}: ${body.error}`);
  return body.data;
}

describe('the Swarm stack end to end', () => {
  jest.setTimeout(300_000);
  let operator: string;
  let seller: Credentials;
  let buyer: Credentials;
  let stream: StreamClient;

  const balance = (who: Credentials, asset: string) => api.balance(who, asset);

  beforeAll(async () => {
    operator = swarmSecret('operator_token');
    await listMarket(api, base);
    const accounts: Credentials[] = [];
    for (const role of ['seller', 'buyer']) {
      const res = await api.operator<{ apiKey: string; secret: string }>(
        operator,
        'POST',
        '/v1/operator/accounts',
        {
          accountId: `swarm-${role}-${run}`,
          name: role,
        },
      );
      expect(res.status).toBe(201);
      accounts.push({ apiKey: res.body.apiKey, secret: res.body.secret });
    }
    [seller, buyer] = accounts;
    for (const [accountId, asset, amount] of [
      [`swarm-seller-${run}`, base, '1'],
      [`swarm-buyer-${run}`, 'USDT', '100000'],
    ]) {
      const res = await api.operator(operator, 'POST', '/v1/operator/deposits', { accountId, asset, amount });
      expect(res.status).toBe(202);
    }
    await until('deposits applied', async () =>
      (await balance(buyer, 'USDT'))?.available === '100000' &&
      (await balance(seller, base))?.available === '1'
        ? true
        : undefined,
    );
    stream = api.stream();
    await stream.auth(buyer);
    await stream.waitFor((m) => m.type === 'authenticated');
    for (const channel of [`trades:${symbol}`, 'orders']) await stream.send({ op: 'subscribe', channel });
    await stream.waitFor((m) => m.type === 'snapshot' && m.channel === `trades:${symbol}`);
  });

  afterAll(() => stream?.close());

  it('a signed crossing pair trades: WebSocket fill, order states, trade row, depth, ticker, 1m candle, reconciliation', async () => {
    const sell = await api.signed<Json>(seller, 'POST', '/v1/orders', {
      symbol,
      side: 'sell',
      type: 'limit',
      price: '50000.00',
      quantity: '0.01',
      clientOrderId: `swarm-s-${run}`,
    });
    expect(sell.status).toBe(202);
    await until('the ask rests in depth', async () => {
      const d = await api.public<{ asks: [string, string][] }>(`/v1/markets/${symbol}/depth`);
      return d.body.asks?.some(([p]) => p === '50000') ? true : undefined;
    });
    const buy = await api.signed<Json>(buyer, 'POST', '/v1/orders', {
      symbol,
      side: 'buy',
      type: 'limit',
      price: '50000.00',
      quantity: '0.004',
    });
    expect(buy.status).toBe(202);
    const buyId = String(buy.body.orderId);

    const fill = await stream.waitFor(
      (m) =>
        m.type === 'update' &&
        m.channel === 'orders' &&
        (m.data as Json).orderId === buyId &&
        (m.data as Json).status === 'filled',
    );
    log(`fill on the WebSocket: ${JSON.stringify(fill.data)}`);
    const trade = await stream.waitFor((m) => m.type === 'update' && m.channel === `trades:${symbol}`);
    expect(trade.data).toMatchObject({ symbol, price: '50000', qty: '0.004', takerSide: 'buy' });

    const sellState = await until('sell partially filled', async () => {
      const r = await api.signed<Json>(seller, 'GET', `/v1/orders/${String(sell.body.orderId)}`);
      return r.body.status === 'partially_filled' ? r.body : undefined;
    });
    expect(sellState).toMatchObject({ filledQuantity: '0.004' });
    const buyState = await api.signed<Json>(buyer, 'GET', `/v1/orders/${buyId}`);
    expect(buyState.body).toMatchObject({ status: 'filled', filledQuantity: '0.004' });
    log(`order states: sell ${String(sellState.status)}, buy ${String(buyState.body.status)}`);

    const rows = await until('the trade row', () => {
      const r = sql(
        `SELECT price::text, qty::text, taker_side FROM trades WHERE taker_order_id::text = '${buyId}'`,
      );
      return r.length ? r : undefined;
    });
    // Stored as integers: ticks of 0.01 and lots of 0.0001.
    expect(rows).toEqual([['5000000', '40', 'buy']]);
    log(`trade row: ${rows[0].join(' ')}`);

    const depth = await until('depth shows the rest of the ask', async () => {
      const d = await api.public<{ asks: [string, string][] }>(`/v1/markets/${symbol}/depth`);
      return d.body.asks?.find(([p, q]) => p === '50000' && q === '0.006') ? d.body : undefined;
    });
    expect(depth.asks.length).toBeGreaterThan(0);
    const ticker = await until('ticker', async () => {
      const t = await api.public<{ data: Json }>(`/v1/markets/${symbol}/ticker`);
      return t.body.data?.last === '50000' ? t.body.data : undefined;
    });
    expect(ticker).toMatchObject({ last: '50000', volume: '0.004' });
    log(`ticker: last ${String(ticker.last)}, volume ${String(ticker.volume)}`);
    const from = new Date(Date.now() - 10 * 60_000).toISOString();
    const candles = await until('1m candle', async () => {
      const c = await api.public<{ data: Json[] }>(
        `/v1/markets/${symbol}/candles?interval=1m&from=${encodeURIComponent(from)}`,
      );
      return c.body.data?.length ? c.body.data : undefined;
    });
    expect(candles).toEqual([
      expect.objectContaining({
        open: '50000',
        high: '50000',
        low: '50000',
        close: '50000',
        volume: '0.004',
      }),
    ]);
    log(`1m candle: ${JSON.stringify(candles[0])}`);

    // Settlement with fees: 0.004 x 50000 = 200 USDT; the taker pays 0.2 % (0.4), the maker 0.1 % (0.2).
    await until('seller settled', async () =>
      (await balance(seller, 'USDT'))?.available === '199.8' ? true : undefined,
    );
    expect(await balance(buyer, 'USDT')).toEqual({ asset: 'USDT', available: '99799.6', held: '0' });
    expect(await balance(buyer, base)).toEqual({ asset: base, available: '0.004', held: '0' });

    const cancel = await api.signed<Json>(seller, 'DELETE', `/v1/orders/${String(sell.body.orderId)}`);
    expect(cancel.status).toBe(202);
    await until('the rest of the sell cancelled', async () => {
      const r = await api.signed<Json>(seller, 'GET', `/v1/orders/${String(sell.body.orderId)}`);
      return r.body.status === 'cancelled' ? true : undefined;
    });
    const rec = await until(
      'reconciliation ok',
      () => {
        const r = reconcile();
        return r.ok ? r : undefined;
      },
      60_000,
      3_000,
    );
    log(`reconciliation: ${rec.output.split('\n').at(-1)}`);
  });

  it('Prometheus has every task of every app service as an up target', async () => {
    const want = Object.fromEntries(APP_SERVICES.map((s) => [s, replicas(s)]));
    const seen = await until(
      'every app task up',
      async () => {
        const data = await prometheus<{ activeTargets: { labels: Json; health: string }[] }>(
          '/api/v1/targets?state=active',
        );
        const up: Record<string, number> = {};
        for (const t of data.activeTargets) {
          if (t.health === 'up') up[String(t.labels.job)] = (up[String(t.labels.job)] ?? 0) + 1;
        }
        return APP_SERVICES.every((s) => up[s] === want[s]) ? up : undefined;
      },
      120_000,
      2_000,
    );
    log(`up targets: ${JSON.stringify(seen)} (replicas ${JSON.stringify(want)})`);
    for (const job of ['node', 'postgres', 'redis', 'kafka', 'cadvisor'])
      expect(seen[job]).toBeGreaterThan(0);
  });

  it("cAdvisor gives every app service's tasks their CPU and memory, by Swarm service", async () => {
    const byService = async (expr: string) => {
      const data = await prometheus<{ result: { metric: Json; value: [number, string] }[] }>(
        `/api/v1/query?${new URLSearchParams({ query: expr })}`,
      );
      return Object.fromEntries(
        data.result.map((r) => [
          String(r.metric.container_label_com_docker_swarm_service_name),
          Number(r.value[1]),
        ]),
      );
    };
    const stack = `container_label_com_docker_stack_namespace="${STACK}"`;
    const cpu = await until(
      'container CPU of every app service',
      async () => {
        const seen = await byService(
          `sum by (container_label_com_docker_swarm_service_name) (rate(container_cpu_usage_seconds_total{${stack},cpu="total"}[1m]))`,
        );
        return APP_SERVICES.every((s) => seen[service(s)] > 0) ? seen : undefined;
      },
      120_000,
      5_000,
    );
    const memory = await byService(
      `sum by (container_label_com_docker_swarm_service_name) (container_memory_working_set_bytes{${stack}})`,
    );
    for (const s of APP_SERVICES) expect(memory[service(s)]).toBeGreaterThan(10 * 1024 * 1024);
    log(
      `container CPU (cores) and working set (MiB): ${APP_SERVICES.map(
        (s) => `${s} ${cpu[service(s)].toFixed(3)} / ${Math.round(memory[service(s)] / 1048576)}`,
      ).join(', ')}`,
    );
  });

  it('every alert and recording rule evaluates, and every dashboard query runs, on the overlay', async () => {
    const groups = await until(
      'rules evaluated',
      async () => {
        const data = await prometheus<{
          groups: { rules: { name: string; health: string; lastError?: string }[] }[];
        }>('/api/v1/rules');
        const rules = data.groups.flatMap((g) => g.rules);
        return rules.length > 0 && rules.every((r) => r.health === 'ok') ? rules : undefined;
      },
      90_000,
      3_000,
    );
    log(`${groups.length} rules evaluated, all ok`);
    const failures: string[] = [];
    const queries = dashboardQueries();
    for (const { what, expr } of queries) {
      try {
        await prometheus(`/api/v1/query?${new URLSearchParams({ query: expr })}`);
      } catch (err) {
        failures.push(`${what}: ${String(err)}`);
      }
    }
    expect(failures).toEqual([]);
    log(`${queries.length} dashboard queries evaluated`);
  });
});
