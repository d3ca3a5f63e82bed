import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Producer } from 'kafkajs';
import YAML from 'yaml';
import { kafkaSchema, loadConfig } from '@trading/config';
import { TOPICS } from '@trading/contracts';
import { createKafka, partitionFor } from '@trading/kafka';
import { GATEWAY_URL, SERVICE_PORTS } from './testing/native-services';
import { until } from './testing/until';
import {
  dashboardQueries,
  loadDashboards,
  substituteGrafanaVariables,
  type Dashboard,
  type Panel,
} from './testing/dashboards';

// The monitoring overlay against live data: the native platform (started here when nothing
// listens on its ports, as in CI) takes signed orders, Prometheus scrapes it with the rules of
// monitoring/prometheus/rules loaded, and then every Grafana panel query, every template variable
// query and every alert and recording rule is evaluated through Prometheus's HTTP API: none may
// error, and the order pipeline's throughput, latency and lag panels must return data.

const root = join(__dirname, '..');
const PROMETHEUS = process.env.PROMETHEUS_URL ?? 'http://127.0.0.1:19090';
const ALERTMANAGER = process.env.ALERTMANAGER_URL ?? 'http://127.0.0.1:19094';
const GATEWAY = GATEWAY_URL;
const SYMBOL = 'BTC-USDT';

// The native ports Prometheus scrapes (monitoring/prometheus/prometheus.native.yml).
const SERVICES = [
  { name: 'order-router', entry: 'order-router', port: SERVICE_PORTS['order-router'], instance: '0' },
  {
    name: 'matching-worker-0',
    entry: 'matching-worker',
    port: SERVICE_PORTS['matching-worker'],
    instance: '0',
  },
  { name: 'market-data', entry: 'market-data', port: SERVICE_PORTS['market-data'], instance: '0' },
  { name: 'api-gateway', entry: 'api-gateway', port: SERVICE_PORTS['api-gateway'], instance: '0' },
];

interface PromResult {
  metric: Record<string, string>;
  value: [number, string];
}
interface DemoKeys {
  apiKeys: { accountId: string; keyId: string; secret: string }[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function listening(port: number): Promise<boolean> {
  try {
    await fetch(`http://127.0.0.1:${port}/health/live`, { signal: AbortSignal.timeout(1000) });
    return true;
  } catch {
    return false;
  }
}

async function query(expr: string): Promise<{ status: string; error?: string; result: PromResult[] }> {
  const res = await fetch(`${PROMETHEUS}/api/v1/query?${new URLSearchParams({ query: expr })}`);
  const body = (await res.json()) as { status: string; error?: string; data?: { result: PromResult[] } };
  return { status: body.status, error: body.error, result: body.data?.result ?? [] };
}

function signedHeaders(
  key: DemoKeys['apiKeys'][number],
  method: string,
  path: string,
  body: string,
): Record<string, string> {
  const ts = String(Date.now());
  const signature = createHmac('sha256', key.secret).update(`${ts}${method}${path}${body}`).digest('hex');
  return {
    'x-api-key': key.keyId,
    'x-api-timestamp': ts,
    'x-api-signature': signature,
    'content-type': 'application/json',
  };
}

describe('monitoring overlay against the live native platform', () => {
  jest.setTimeout(240_000);
  const children: ChildProcess[] = [];
  const dashboards = loadDashboards();
  let keys: DemoKeys;
  let producer: Producer | undefined;

  beforeAll(async () => {
    const env = { ...process.env, NODE_ENV: 'production', LOG_LEVEL: 'warn' };
    const migrate = spawnSync(process.execPath, [join(root, 'dist/libs/db/src/migrate.main.js')], {
      env,
      encoding: 'utf8',
    });
    if (migrate.status !== 0) throw new Error(`migrate failed: ${migrate.stderr}`);
    const seed = spawnSync(process.execPath, [join(root, 'dist/services/api-gateway/src/seed.main.js')], {
      env,
      encoding: 'utf8',
    });
    if (seed.status !== 0) throw new Error(`seed failed: ${seed.stderr}`);
    keys = JSON.parse(seed.stdout) as DemoKeys;

    // Start what is not running (CI); a developer's `npm run platform` is used as it is.
    for (const s of SERVICES) {
      if (await listening(s.port)) continue;
      const child = spawn(process.execPath, [join(root, `dist/services/${s.entry}/src/main.js`)], {
        env: { ...env, HTTP_PORT: String(s.port), INSTANCE_ID: s.instance },
        stdio: 'ignore',
      });
      children.push(child);
      await until(
        `${s.name} ready`,
        async () => {
          if (child.exitCode !== null) throw new Error(`${s.name} exited with ${child.exitCode}`);
          const res = await fetch(`http://127.0.0.1:${s.port}/health/ready`);
          return res.status === 200 ? true : undefined;
        },
        90_000,
      );
    }
    // Readiness also refreshes service_dependency_up on every service.
    for (const s of SERVICES) await fetch(`http://127.0.0.1:${s.port}/health/ready`);

    // Load the rules of this checkout (lifecycle API enabled by native/infra.sh).
    expect((await fetch(`${PROMETHEUS}/-/reload`, { method: 'POST' })).status).toBe(200);
    expect((await fetch(`${ALERTMANAGER}/-/reload`, { method: 'POST' })).status).toBe(200);

    // Fund the demo accounts: deposits are commands on the account's partition of orders.commands.v1.
    const kafkaConfig = loadConfig(kafkaSchema);
    const kafka = createKafka(kafkaConfig, 'monitoring-int-spec');
    producer = kafka.producer();
    await producer.connect();
    const deposits = [
      { accountId: keys.apiKeys[0].accountId, asset: 'USDT', amount: 1_000_000_000_000 }, // 1,000,000 USDT (6 dp)
      { accountId: keys.apiKeys[1].accountId, asset: 'BTC', amount: 1_000_000_000 }, // 10 BTC (8 dp)
    ];
    for (const d of deposits) {
      const command = {
        kind: 'deposit',
        commandId: randomUUID(),
        accountId: d.accountId,
        asset: d.asset,
        amount: d.amount,
        receivedAt: Date.now(),
      };
      await producer.send({
        topic: TOPICS.orderCommands.name,
        messages: [
          {
            key: d.accountId,
            value: JSON.stringify(command),
            partition: partitionFor(d.accountId, kafkaConfig.KAFKA_PARTITIONS),
          },
        ],
      });
    }
    await until(
      'deposits applied',
      async () => {
        for (const [i, asset] of [
          [0, 'USDT'],
          [1, 'BTC'],
        ] as const) {
          const res = await fetch(`${GATEWAY}/v1/balances`, {
            headers: signedHeaders(keys.apiKeys[i], 'GET', '/v1/balances', ''),
          });
          const body = (await res.json()) as { data: { asset: string; available: string }[] };
          const b = body.data.find((x) => x.asset === asset);
          if (!b || Number(b.available) <= 1) return undefined;
        }
        return true;
      },
      60_000,
    );

    // Two rounds of crossing orders a few scrapes apart, so every rate() sees an increase.
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 5; i++) {
        for (const [k, side] of [
          [1, 'sell'],
          [0, 'buy'],
        ] as const) {
          const body = JSON.stringify({
            symbol: SYMBOL,
            side,
            type: 'limit',
            price: '100.00',
            quantity: '0.01',
          });
          const res = await fetch(`${GATEWAY}/v1/orders`, {
            method: 'POST',
            body,
            headers: signedHeaders(keys.apiKeys[k], 'POST', '/v1/orders', body),
          });
          expect(res.status).toBe(202);
        }
      }
      await sleep(12_000);
    }
  });

  afterAll(async () => {
    await producer?.disconnect();
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await Promise.all(
      children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)),
    );
  });

  it("Prometheus runs this checkout's rules and scrapes the running services", async () => {
    const reload = await query('prometheus_config_last_reload_successful');
    expect(reload.result.map((r) => r.value[1])).toEqual(['1']);
    const res = (await (await fetch(`${PROMETHEUS}/api/v1/rules`)).json()) as {
      data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] };
    };
    const loaded = res.data.groups.flatMap((g) => g.rules);
    const inFiles = readdirSync(join(root, 'monitoring/prometheus/rules'))
      .filter((f) => f.endsWith('.yml'))
      .flatMap((f) =>
        (
          YAML.parse(readFileSync(join(root, 'monitoring/prometheus/rules', f), 'utf8')) as {
            groups: { rules: { alert?: string; record?: string }[] }[];
          }
        ).groups.flatMap((g) => g.rules.map((r) => r.alert ?? r.record)),
      );
    expect(loaded.map((r) => r.name).sort()).toEqual([...inFiles].sort());
    for (const s of SERVICES) {
      const up = await until(
        `${s.name} scraped`,
        async () => {
          const r = await query(`up{instance="127.0.0.1:${s.port}"}`);
          return r.result[0]?.value[1] === '1' ? r : undefined;
        },
        30_000,
      );
      expect(up.result).toHaveLength(1);
    }
    const am = await query('alertmanager_config_last_reload_successful');
    expect(am.result.map((r) => r.value[1])).toEqual(['1']);
  });

  it('the order pipeline panels return data: throughput, end-to-end latency, lag', async () => {
    const pipeline = dashboards.find((d) => d.uid === 'order-pipeline') as Dashboard;
    const wanted = [
      'Orders through each stage',
      'Order acknowledged (Kafka acks=all)',
      'Routed (order-router) and execution emitted (matching-worker)',
      'Order state persisted (order-router)',
      'Trade persisted (market-data)',
      'Lag by consumer and topic',
      'Lag by partition',
    ];
    for (const title of wanted) {
      const panel = pipeline.panels.find((p) => p.title === title) as Panel;
      expect(panel).toBeDefined();
      // Recording rules run every 15 s: wait until they have seen the orders.
      const values = await until(
        `data for "${title}"`,
        async () => {
          const all: number[] = [];
          for (const t of panel.targets ?? []) {
            const r = await query(substituteGrafanaVariables(t.expr));
            all.push(...r.result.map((x) => Number(x.value[1])));
          }
          const finite = all.filter((v) => Number.isFinite(v));
          // Throughput and latency must show the orders just sent; lag only has to be reported.
          const ok = title.startsWith('Lag') ? all.length > 0 : finite.some((v) => v > 0);
          return ok ? finite : undefined;
        },
        90_000,
      );
      expect({ title, hasData: values.length > 0 }).toEqual({ title, hasData: true });
    }
  });

  it('every panel query and template variable of every dashboard evaluates without error', async () => {
    const failures: string[] = [];
    let evaluated = 0;
    for (const { what, expr } of dashboardQueries(dashboards)) {
      const r = await query(expr);
      evaluated++;
      if (r.status !== 'success') failures.push(`${what}: ${r.error}`);
    }
    expect(failures).toEqual([]);
    expect(evaluated).toBeGreaterThan(50);
  });

  it('every alert and recording rule evaluates without error, in the rule engine and through the API', async () => {
    // One more evaluation cycle after the reload, so health reflects this checkout's rules.
    await sleep(16_000);
    const res = (await (await fetch(`${PROMETHEUS}/api/v1/rules`)).json()) as {
      data: {
        groups: {
          name: string;
          rules: { name: string; query: string; health: string; lastError?: string; type: string }[];
        }[];
      };
    };
    const failures: string[] = [];
    for (const g of res.data.groups) {
      for (const r of g.rules) {
        if (r.health === 'err') failures.push(`${g.name}/${r.name}: ${r.lastError}`);
        const q = await query(r.query);
        if (q.status !== 'success') failures.push(`${g.name}/${r.name} (query): ${q.error}`);
      }
    }
    expect(failures).toEqual([]);
    // The heavy queries the dashboards lean on are recorded from live data.
    for (const name of [
      'service:orders_accepted:rate1m',
      'service:pipeline_execution_emitted_seconds:p99_5m',
      'service_topic:consumer_lag_records:sum',
    ]) {
      expect({ name, series: (await query(name)).result.length > 0 }).toEqual({ name, series: true });
    }
  });
});
