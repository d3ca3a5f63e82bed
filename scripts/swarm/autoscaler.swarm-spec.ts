import { randomUUID } from 'node:crypto';
import { ChaosLoad, type LoadAccount } from '../chaos/load';
import { ExchangeClient } from '../testing/exchange-client';
import {
  containers,
  converged,
  docker,
  GATEWAY_URL,
  listMarket,
  nothingLostOrDoubled,
  PROMETHEUS_URL,
  replicas,
  service,
  swarmSecret,
  until,
} from '../testing/swarm';

// The autoscaler (docs/adr/0015) on the deployed stack: switched on with a short cooldown and a
// test policy for the gateway and the matching workers, a signed load through the edge raises
// their replicas (the workers' by a rebalance under load); once the load stops they fall back
// after the cooldown; every acknowledged order is stored once and the money reconciles. The
// decisions are read back from the autoscaler's log and from the stack's Prometheus.
const RATE = Number(process.env.SWARM_AUTOSCALE_RATE ?? 50);
const COOLDOWN_S = 30;
const api = new ExchangeClient(GATEWAY_URL);
const run = randomUUID().replace(/-/g, '').slice(0, 6).toUpperCase();
const base = `A${run}`;
const log = (msg: string) => process.stdout.write(`[swarm autoscaler] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Each scaled service, its replicas at rest and under the load. */
const SCALED = { 'api-gateway': [2, 3], 'matching-worker': [3, 4] } as const;
type Scaled = keyof typeof SCALED;
const NAMES = Object.keys(SCALED) as Scaled[];

// One task more under load, up after 5 s, down after 30 s below, one task at a time. Signals:
// the order rate at the gateways (0 at rest), and the gateway's CPU per task with thresholds
// above what an idle gateway spends on this machine (health checks and scrapes; measured before
// the load, since the machine is shared), the workers' consumer lag.
function testPolicy(idleCpu: number) {
  const cpuDown = Math.max(0.03, Math.round((idleCpu * 2 + 0.01) * 1000) / 1000);
  const orderRate = {
    metric: 'query',
    name: 'order_rate',
    query: 'sum(rate(orders_received_total{job="api-gateway"}[$window]))',
    up: RATE / 2,
    down: 1,
  };
  const policy = (name: Scaled, signals: object[]) => ({
    min: SCALED[name][0],
    max: SCALED[name][1],
    step: 1,
    cooldownSeconds: COOLDOWN_S,
    upCooldownSeconds: 5,
    signals,
  });
  return {
    'api-gateway': policy('api-gateway', [{ metric: 'cpu', up: cpuDown * 2, down: cpuDown }, orderRate]),
    'matching-worker': policy('matching-worker', [{ metric: 'consumer_lag', up: 1000, down: 50 }, orderRate]),
  };
}

interface LoggedDecision {
  time: number;
  service: string;
  direction: string;
  from: number;
  to: number;
  reason: string;
  metric?: string;
  value?: number;
  threshold?: number;
  readings: unknown;
}

/** The autoscaler's decision lines since `since` (ms), from `docker service logs`. */
function decisionsSince(since: number): LoggedDecision[] {
  const out = docker(
    'service',
    'logs',
    '--raw',
    '--since',
    new Date(since).toISOString(),
    service('autoscaler'),
  );
  return out
    .split('\n')
    .filter((l) => l.includes('"autoscaler_decision"'))
    .map((l) => JSON.parse(l.slice(l.indexOf('{'))) as LoggedDecision);
}

const describeDecision = (d: LoggedDecision, t0: number): string =>
  `+${((d.time - t0) / 1000).toFixed(0)} s ${d.service} ${d.direction} ${d.from} -> ${d.to} (${d.reason}` +
  (d.metric ? `: ${d.metric} ${Number(d.value).toPrecision(3)} vs ${d.threshold}` : '') +
  `) readings ${JSON.stringify(d.readings)}`;

/** Waits until the autoscaler has set every scaled service to its replicas at rest (0) or under load (1). */
const replicasReach = (at: 0 | 1, timeoutMs: number) =>
  until(
    `the autoscaler sets ${NAMES.map((n) => `${n} to ${SCALED[n][at]}`).join(', ')}`,
    () => (NAMES.every((n) => replicas(n) === SCALED[n][at]) ? true : undefined),
    timeoutMs,
    1_000,
  );

/** An instant query's samples, keyed by the values of `labels` joined with a space. */
async function promVector(query: string, labels: string[] = []): Promise<Record<string, number>> {
  const res = await fetch(`${PROMETHEUS_URL}/api/v1/query?query=${encodeURIComponent(query)}`);
  const body = (await res.json()) as {
    data: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  return Object.fromEntries(
    body.data.result.map((r) => [labels.map((l) => r.metric[l]).join(' '), Number(r.value[1])]),
  );
}

const promValue = async (query: string): Promise<number | null> =>
  Object.values(await promVector(query))[0] ?? null;

describe('the autoscaler on the Swarm stack', () => {
  jest.setTimeout(600_000);
  let symbol: string;
  const accounts: LoadAccount[] = [];
  const initial: Partial<Record<Scaled, number>> = {};
  const convergedAll = () => Promise.all(NAMES.map((n) => converged(n)));

  beforeAll(async () => {
    for (const n of NAMES) initial[n] = replicas(n);
    const operator = swarmSecret('operator_token');
    symbol = await listMarket(api, base);
    for (let i = 0; i < 6; i++)
      accounts.push(
        await api.fundedAccount(operator, `swarm-autoscale-${run}-${i}`, `autoscale ${i}`, {
          USDT: '10000000',
          [base]: '100000',
        }),
      );
    // The test policy, acting (the single-node stack deploys the autoscaler in dry-run).
    const idleCpu =
      (await promValue(
        'max_over_time(avg(rate(process_cpu_seconds_total{job="api-gateway"}[20s]))[1m:5s])',
      )) ?? 0;
    const policy = testPolicy(idleCpu);
    log(`idle api-gateway CPU ${idleCpu.toFixed(3)} cores per task; test policy ${JSON.stringify(policy)}`);
    const before = containers('autoscaler');
    docker(
      'service',
      'update',
      '--detach',
      '--env-add',
      'AUTOSCALER_MODE=on',
      '--env-add',
      'AUTOSCALER_INTERVAL_SECONDS=5',
      '--env-add',
      'AUTOSCALER_WINDOW=20s',
      '--env-add',
      `AUTOSCALER_SERVICES=${JSON.stringify(policy)}`,
      service('autoscaler'),
    );
    await converged('autoscaler', before);
    await convergedAll();
  });

  afterAll(async () => {
    // Back to the deployed configuration, and the services to their replicas.
    const before = containers('autoscaler');
    docker('service', 'rollback', '--detach', service('autoscaler'));
    await converged('autoscaler', before);
    for (const n of NAMES)
      if (replicas(n) !== initial[n]) docker('service', 'scale', '--detach', `${service(n)}=${initial[n]}`);
    await convergedAll();
  });

  it(`load up (${RATE} orders/s): replicas rise; load gone: they fall after the ${COOLDOWN_S} s cooldown; nothing lost`, async () => {
    const t0 = Date.now();
    for (const n of NAMES) expect(replicas(n)).toBe(SCALED[n][0]);
    const load = new ChaosLoad(GATEWAY_URL, accounts, [{ symbol, midTicks: 1_000_000 }], RATE, `s${run}`);
    load.start();
    await replicasReach(1, 120_000);
    log(
      `replicas ${NAMES.map((n) => `${n} ${SCALED[n].join(' -> ')}`).join(', ')} after ${((Date.now() - t0) / 1000).toFixed(0)} s of load`,
    );
    // The new tasks join: the gateway behind the edge, the worker in the consumer group (a
    // rebalance under load).
    await convergedAll();
    await sleep(15_000);
    // Still loaded: they stay up (at max, no flapping down under load).
    for (const n of NAMES) expect(replicas(n)).toBe(SCALED[n][1]);
    await load.stop(60_000);
    const stoppedAt = Date.now();
    log(`load stopped after ${((stoppedAt - t0) / 1000).toFixed(0)} s: ${JSON.stringify(load.stats)}`);

    await replicasReach(0, 180_000);
    const downAt = Date.now();
    log(
      `back to ${NAMES.map((n) => `${n} ${SCALED[n][0]}`).join(', ')} ${((downAt - stoppedAt) / 1000).toFixed(0)} s after the load stopped (cooldown ${COOLDOWN_S} s)`,
    );
    // Signals must stay below for a whole cooldown, counted from when the 20 s rate windows
    // have emptied: never earlier than the cooldown itself.
    expect(downAt - stoppedAt).toBeGreaterThanOrEqual(COOLDOWN_S * 1000);
    await convergedAll();

    const decisions = decisionsSince(t0 - 5_000);
    for (const d of decisions) log(describeDecision(d, t0));
    for (const n of NAMES) {
      const changes = decisions.filter((d) => d.service === n && d.direction !== 'hold');
      expect(changes.map((d) => [d.direction, d.from, d.to, d.reason])).toEqual([
        ['up', SCALED[n][0], SCALED[n][1], 'signal_above'],
        ['down', SCALED[n][1], SCALED[n][0], 'signals_below'],
      ]);
    }
    // Exported and scraped by the stack's Prometheus.
    const exported = await until(
      'decisions in Prometheus',
      async () => {
        const m = await promVector('sum by (service, direction) (autoscaler_decisions_total)', [
          'service',
          'direction',
        ]);
        const desired = await promVector('max by (service) (autoscaler_desired_replicas)', ['service']);
        return NAMES.every((n) => m[`${n} up`] >= 1 && m[`${n} down`] >= 1 && desired[n] === SCALED[n][0])
          ? { decisions: m, desired }
          : undefined;
      },
      60_000,
      2_000,
    );
    log(
      `Prometheus: autoscaler_decisions_total ${JSON.stringify(exported.decisions)}; autoscaler_desired_replicas ${JSON.stringify(exported.desired)}`,
    );

    expect(load.stats.acknowledged).toBeGreaterThan(RATE * 20);
    await nothingLostOrDoubled(load, symbol, log);
  });
});
