import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { ExchangeClient, type Credentials } from './testing/exchange-client';
import {
  ensureServices,
  GATEWAY_URL,
  infraPid,
  infraUp,
  nativeEnv,
  secret,
  SERVICE_PORTS,
  type RunningServices,
} from './testing/native-services';
import {
  configuredPrimaryPort,
  failBack,
  primaryPort,
  promotedFrom,
  redisCli,
} from './testing/redis-sentinel';
import { openTestMarket } from './testing/test-market';
import { until } from './testing/until';

// Redis failover on the native stack (issue 23): a primary, a replica and three sentinels
// (native/lib/redis.sh); every service connects through the sentinels. Under a steady flow of
// crossing orders the primary is SIGKILLed: the sentinels promote the replica, every service is
// ready again without a restart, orders acknowledged before, during and after the switch are
// stored once and trade, the retried ones (503 + Retry-After) too, and the money reconciles.
// The old primary, started again by `native/infra.sh up`, rejoins as a replica of the new one.
// Afterwards the test fails back (SENTINEL FAILOVER) so the next suite finds REDIS_URL's node
// primary again.
const root = join(__dirname, '..');
const api = new ExchangeClient(GATEWAY_URL);
const run = randomUUID().replace(/-/g, '').slice(0, 6).toUpperCase();
const symbol = `F${run}-USDT`;
const base = `F${run}`;
const env = nativeEnv();
const PRIMARY_PORT = configuredPrimaryPort();

type Json = Record<string, unknown>;

/** Each service's process start time (its /metrics): unchanged means not restarted. */
async function startTimes(): Promise<number[]> {
  return Promise.all(
    Object.values(SERVICE_PORTS).map(async (port) => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return Number(/^process_start_time_seconds(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1]);
    }),
  );
}

describe('Redis failover through Sentinel under load', () => {
  jest.setTimeout(240_000);
  let services: RunningServices;
  let db: DataSource;
  let seller: Credentials;
  let buyer: Credentials;

  beforeAll(async () => {
    // An earlier suite may have failed the primary over (the chaos run kills it too).
    await failBack();
    expect(primaryPort()).toBe(PRIMARY_PORT);
    services = await ensureServices();
    const operator = secret('operator_token');
    db = await openTestMarket('redis-failover', symbol, base);
    seller = await api.fundedAccount(operator, `rf-seller-${run}`, 'redis-failover', { [base]: '100' });
    buyer = await api.fundedAccount(operator, `rf-buyer-${run}`, 'redis-failover', { USDT: '1000000' });
    await api.marketsListed([symbol]);
  });

  afterAll(async () => {
    await failBack().catch((err) => console.error(`failback: ${String(err)}`));
    await db?.destroy();
    await services?.stop();
  });

  it('promotes the replica; the services follow it without a restart and nothing is lost or doubled', async () => {
    const started = await startTimes();
    const acked = new Map<string, string>(); // clientOrderId -> orderId
    const counts = { accepted: 0, unavailable: 0, other: 0 };
    let stop = false;
    let n = 0;
    // Two lanes, each a sell and a buy at the same price: every pair crosses.
    const lane = async (who: Credentials, side: 'buy' | 'sell'): Promise<void> => {
      let i = 0;
      while (!stop) {
        const clientOrderId = `rf-${side}-${run}-${i++}`;
        const body = { symbol, side, type: 'limit', price: '10.00', quantity: '0.1', clientOrderId };
        for (;;) {
          const r = await api.signed<Json>(who, 'POST', '/v1/orders', body);
          n++;
          if (r.status === 202) {
            counts.accepted++;
            acked.set(clientOrderId, String(r.body.orderId));
            break;
          }
          if (r.status === 503) {
            counts.unavailable++;
            // A dependency that is down answers 503 with Retry-After, and the retry is safe.
            expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
            await new Promise((res) => setTimeout(res, 200));
            continue;
          }
          counts.other++;
          throw new Error(`${clientOrderId}: ${r.status} ${JSON.stringify(r.body)}`);
        }
        await new Promise((res) => setTimeout(res, 40));
      }
    };
    // A WebSocket subscriber of the market's trades, through the same failover.
    const ws = api.stream();
    await ws.send({ op: 'subscribe', channel: `trades:${symbol}` });
    await ws.waitFor((m) => m.type === 'snapshot');
    const lanes = [lane(seller, 'sell'), lane(buyer, 'buy')];
    await until('orders flowing', () => (counts.accepted > 40 ? true : undefined), 30_000, 100);
    await ws.waitFor((m) => m.type === 'update');

    const killedAt = Date.now();
    const framesBefore = ws.messages.length;
    process.kill(infraPid('redis'), 'SIGKILL');
    const promoted = await promotedFrom(PRIMARY_PORT);
    const promotedMs = Date.now() - killedAt;
    const acceptedAtPromotion = counts.accepted;
    // The services were not restarted and take orders again through the new primary.
    await until('orders accepted after the promotion', () =>
      counts.accepted > acceptedAtPromotion + 40 ? true : undefined,
    );
    const resumedMs = Date.now() - killedAt;
    // The subscriber got a fresh snapshot after the switch, and trades after it.
    const after = ws.messages.slice(framesBefore);
    const fresh = after.findIndex((m) => m.type === 'snapshot' && m.channel === `trades:${symbol}`);
    expect(fresh).toBeGreaterThanOrEqual(0);
    await until('trades after the fresh snapshot', () =>
      ws.messages.slice(framesBefore + fresh + 1).some((m) => m.type === 'update') ? true : undefined,
    );
    expect(ws.messages.filter((m) => m.type === 'error')).toEqual([]);
    ws.close();
    stop = true;
    await Promise.all(lanes);
    expect(await startTimes()).toEqual(started);
    expect(counts.other).toBe(0);

    // Every acknowledged order is stored once, under its clientOrderId, and trades.
    await until(
      'every acknowledged order settled',
      async () => {
        const rows = (await db.query(
          `SELECT client_order_id, order_id, status FROM orders WHERE symbol = $1 AND client_order_id LIKE $2`,
          [symbol, `rf-%-${run}-%`],
        )) as { client_order_id: string; order_id: string; status: string }[];
        if (rows.length < acked.size) return undefined;
        if (rows.some((r) => r.status === 'pending')) return undefined;
        return rows;
      },
      60_000,
    ).then((rows) => {
      const byCoid = new Map(rows.map((r) => [r.client_order_id, r.order_id]));
      expect(rows).toHaveLength(byCoid.size); // none twice
      for (const [coid, orderId] of acked) expect(byCoid.get(coid)).toBe(orderId);
    });
    const reconciliation = execFileSync(
      process.execPath,
      [join(root, 'dist/services/order-router/src/reconcile.main.js')],
      { env: { ...process.env, ...env }, encoding: 'utf8' },
    );
    expect(reconciliation).toContain('"reconciliation":"ok"');

    // The old primary comes back as a replica of the new one.
    infraUp();
    const info = redisCli(PRIMARY_PORT, 'info', 'replication');
    expect(info).toMatch(/role:slave/);
    expect(info).toContain(`master_port:${promoted}`);
    console.log(
      `[redis-failover] promoted 127.0.0.1:${promoted} ${promotedMs} ms after SIGKILL; orders flowing again after ${resumedMs} ms; ` +
        `${counts.accepted} accepted, ${counts.unavailable} x 503 retried, ${n} requests`,
    );
  });
});
