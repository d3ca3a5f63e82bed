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
// test policy for the gateway (CPU per task, and the order rate as a second signal), a signed
// load through the edge raises its replicas; once the load stops they fall back after the
// cooldown; every acknowledged order is stored once and the money reconciles. The decisions are
// read back from the autoscaler's log and from the stack's Prometheus.
const RATE = Number(process.env.SWARM_AUTOSCALE_RATE ?? 50);
const COOLDOWN_S = 30;
const api = new ExchangeClient(GATEWAY_URL);
const run = randomUUID().replace(/-/g, '').slice(0, 6).toUpperCase();
const base = `A${run}`;
const log = (msg: string) => process.stdout.write(`[swarm autoscaler] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SCALED = 'api-gateway';

// The gateway runs 2 tasks; the policy lets it reach 3, up after 5 s, down after 30 s below, one
// task at a time. Two signals: CPU per task, with thresholds above what an idle gateway spends
// on this machine (health checks and scrapes; measured before the load, since the machine is
// shared), and the order rate (0 at rest).
function testPolicy(idleCpu: number) {
  const cpuDown = Math.max(0.03, Math.round((idleCpu * 2 + 0.01) * 1000) / 1000);
  return {
    [SCALED]: {
      min: 2,
      max: 3,
      step: 1,
      cooldownSeconds: COOLDOWN_S,
      upCooldownSeconds: 5,
      signals: [
        { metric: 'cpu', up: cpuDown * 2, down: cpuDown },
        {
          metric: 'query',
          name: 'order_rate',
          query: 'sum(rate(orders_received_total{job="$service"}[$window]))',
          up: RATE / 2,
          down: 1,
        },
      ],
    },
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

/** Waits until the autoscaler has set the scaled service to `n` replicas. */
const replicasReach = (n: number, timeoutMs: number) =>
  until(
    `the autoscaler sets ${SCALED} to ${n} replicas`,
    () => (replicas(SCALED) === n ? true : undefined),
    timeoutMs,
    1_000,
  );

async function promValue(query: string): Promise<number | null> {
  const res = await fetch(`${PROMETHEUS_URL}/api/v1/query?query=${encodeURIComponent(query)}`);
  const body = (await res.json()) as { data: { result: { value: [number, string] }[] } };
  const first = body.data.result[0];
  return first ? Number(first.value[1]) : null;
}

describe('the autoscaler on the Swarm stack', () => {
  jest.setTimeout(600_000);
  let symbol: string;
  const accounts: LoadAccount[] = [];
  let initialReplicas = 0;

  beforeAll(async () => {
    initialReplicas = replicas(SCALED);
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
      (await promValue(`max_over_time(avg(rate(process_cpu_seconds_total{job="${SCALED}"}[20s]))[1m:5s])`)) ??
      0;
    const policy = testPolicy(idleCpu);
    log(`idle ${SCALED} CPU ${idleCpu.toFixed(3)} cores per task; test policy ${JSON.stringify(policy)}`);
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
    await converged(SCALED);
  });

  afterAll(async () => {
    // Back to the deployed configuration, and the gateway to its replicas.
    const before = containers('autoscaler');
    docker('service', 'rollback', '--detach', service('autoscaler'));
    await converged('autoscaler', before);
    if (replicas(SCALED) !== initialReplicas)
      docker('service', 'scale', '--detach', `${service(SCALED)}=${initialReplicas}`);
    await converged(SCALED);
  });

  it(`load up (${RATE} orders/s): replicas rise; load gone: they fall after the ${COOLDOWN_S} s cooldown; nothing lost`, async () => {
    const t0 = Date.now();
    expect(replicas(SCALED)).toBe(2);
    const load = new ChaosLoad(GATEWAY_URL, accounts, [{ symbol, midTicks: 1_000_000 }], RATE, `s${run}`);
    load.start();
    await replicasReach(3, 120_000);
    const upAt = Date.now();
    log(`replicas of ${SCALED} 2 -> 3 after ${((upAt - t0) / 1000).toFixed(0)} s of load`);
    // The new task joins the edge and serves part of the load.
    await converged(SCALED);
    await sleep(15_000);
    // Still loaded: it stays up (max 3, no flapping down under load).
    expect(replicas(SCALED)).toBe(3);
    await load.stop(60_000);
    const stoppedAt = Date.now();
    log(`load stopped after ${((stoppedAt - t0) / 1000).toFixed(0)} s: ${JSON.stringify(load.stats)}`);

    await replicasReach(2, 180_000);
    const downAt = Date.now();
    log(
      `replicas of ${SCALED} 3 -> 2 ${((downAt - stoppedAt) / 1000).toFixed(0)} s after the load stopped (cooldown ${COOLDOWN_S} s)`,
    );
    // Signals must stay below for a whole cooldown, counted from when the 20 s rate windows
    // have emptied: never earlier than the cooldown itself.
    expect(downAt - stoppedAt).toBeGreaterThanOrEqual(COOLDOWN_S * 1000);
    await converged(SCALED);

    const decisions = decisionsSince(t0 - 5_000).filter((d) => d.service === SCALED);
    for (const d of decisions) log(describeDecision(d, t0));
    const changes = decisions.filter((d) => d.direction !== 'hold');
    expect(changes.map((d) => [d.direction, d.from, d.to])).toEqual([
      ['up', 2, 3],
      ['down', 3, 2],
    ]);
    expect(changes[0]).toEqual(expect.objectContaining({ reason: 'signal_above' }));
    expect(changes[1]).toEqual(expect.objectContaining({ reason: 'signals_below' }));
    // Exported and scraped by the stack's Prometheus.
    await until(
      'decisions in Prometheus',
      async () => {
        const up = await promValue(`sum(autoscaler_decisions_total{service="${SCALED}",direction="up"})`);
        const down = await promValue(`sum(autoscaler_decisions_total{service="${SCALED}",direction="down"})`);
        const desired = await promValue(`autoscaler_desired_replicas{service="${SCALED}"}`);
        return up !== null && up >= 1 && down !== null && down >= 1 && desired === 2
          ? { up, down, desired }
          : undefined;
      },
      60_000,
      2_000,
    ).then((m) =>
      log(`Prometheus: autoscaler_decisions_total up ${m.up}, down ${m.down}; desired ${m.desired}`),
    );

    expect(load.stats.acknowledged).toBeGreaterThan(RATE * 20);
    await nothingLostOrDoubled(load, symbol, log);
  });
});
