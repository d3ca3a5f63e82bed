import { randomUUID } from 'node:crypto';
import { ChaosLoad, type LoadAccount } from '../chaos/load';
import { ExchangeClient, type Credentials } from '../testing/exchange-client';
import {
  APP_SERVICES,
  containers,
  converged,
  docker,
  execIn,
  GATEWAY_URL,
  listMarket,
  nothingLostOrDoubled,
  PROMETHEUS_URL,
  replicas,
  sql,
  swarmSecret,
  until,
} from '../testing/swarm';

// The stack's replicas (issue 23): the PostgreSQL hot standby `timescaledb-replica` answers the
// gateway's history reads through PgBouncer's `exchange_replica` (db_history_reads_total{server=
// "replica"} in Prometheus), history falls back to the primary while replay is paused, and
// Redis behind three sentinels: the primary's container SIGKILLed under a small order flow, the
// replica promoted, orders accepted again without any service restarted (503 + Retry-After
// allowed during the switch, nothing else), nothing acknowledged lost or doubled, and the killed
// node back as a replica every sentinel can promote again.
const RATE = Number(process.env.SWARM_HA_RATE ?? 20);
const api = new ExchangeClient(GATEWAY_URL);
const run = randomUUID().replace(/-/g, '').slice(0, 6).toUpperCase();
const base = `H${run}`;
const log = (msg: string) => process.stdout.write(`[swarm ha] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const KINDS = ['candles', 'trades', 'orders', 'fills', 'ledger'] as const;
const SENTINELS = ['redis-sentinel-1', 'redis-sentinel-2', 'redis-sentinel-3'];
const REDIS_NODES = ['redis', 'redis-replica'];

async function promQuery(expr: string): Promise<{ metric: Record<string, string>; value: number }[]> {
  const res = await fetch(`${PROMETHEUS_URL}/api/v1/query?${new URLSearchParams({ query: expr })}`);
  const body = (await res.json()) as {
    data: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
}

/** History reads answered by `server` so far, by kind, summed over the gateway tasks. */
async function readsBy(server: 'replica' | 'primary'): Promise<Record<string, number>> {
  const rows = await promQuery(`sum by (kind) (db_history_reads_total{server="${server}"})`);
  return Object.fromEntries(rows.map((r) => [r.metric.kind, r.value]));
}

/** psql on the standby's local socket. */
function replicaSql(query: string): string {
  return execIn('timescaledb-replica', 'psql', '-U', 'exchange', '-d', 'exchange', '-XtAc', query);
}

/** redis-cli in a task of `name` (the password from its secret), output lines. */
function redisCli(name: string, ...args: string[]): string[] {
  const quoted = args.map((a) => `'${a}'`).join(' ');
  return execIn(name, 'bash', '-c', `REDISCLI_AUTH="$(cat /run/secrets/redis_password)" redis-cli ${quoted}`)
    .split('\n')
    .map((l) => l.trim());
}

/** The address of a service's (one) running task on the backend network. */
function addressOf(name: string): string {
  return execIn(name, 'hostname', '-i').split(/\s+/)[0];
}

/** The Redis primary's address as the first sentinel that answers names it. */
function sentinelPrimary(): string | undefined {
  for (const s of SENTINELS) {
    try {
      const [host] = redisCli(s, '-p', '26379', 'sentinel', 'get-master-addr-by-name', 'exchange');
      if (host) return host;
    } catch {
      // that sentinel is not answering
    }
  }
  return undefined;
}

describe('the Swarm stack: PostgreSQL replica for history reads, Redis failover through Sentinel', () => {
  jest.setTimeout(300_000);
  let operator: string;
  let symbol: string;
  let seller: Credentials;
  let buyer: Credentials;

  beforeAll(async () => {
    operator = swarmSecret('operator_token');
    symbol = await listMarket(api, base);
    [seller, buyer] = await Promise.all([
      api.fundedAccount(operator, `ha-seller-${run}`, 'ha seller', { [base]: '1000' }),
      api.fundedAccount(operator, `ha-buyer-${run}`, 'ha buyer', { USDT: '1000000' }),
    ]);
  });

  async function crossingPair(): Promise<void> {
    const order = { symbol, type: 'limit', price: '10.00', quantity: '0.1' };
    expect((await api.signed(seller, 'POST', '/v1/orders', { ...order, side: 'sell' })).status).toBe(202);
    expect((await api.signed(buyer, 'POST', '/v1/orders', { ...order, side: 'buy' })).status).toBe(202);
  }

  /** One history read of each kind through the edge (both gateway tasks get some). */
  async function historyReads(rounds = 4): Promise<void> {
    for (let i = 0; i < rounds; i++) {
      const answers = await Promise.all([
        api.public(`/v1/markets/${symbol}/candles?interval=1m&limit=60`),
        api.public(`/api/v3/trades?symbol=${base}USDT&limit=50`),
        api.signed(buyer, 'GET', `/v1/orders?symbol=${symbol}&status=filled&limit=50`),
        api.signed(buyer, 'GET', `/v1/fills?symbol=${symbol}&limit=50`),
        api.signed(buyer, 'GET', '/v1/ledger?limit=100'),
      ]);
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    }
  }

  it('history reads are answered by the streaming replica, and by the primary while its replay is paused', async () => {
    const t0 = Date.now();
    // Streaming through the slot, a standby, and every gateway task measuring it.
    const [[slot, state]] = sql(
      `SELECT s.slot_name, r.state FROM pg_replication_slots s JOIN pg_stat_replication r ON r.pid = s.active_pid`,
    );
    expect({ slot, state }).toEqual({ slot: 'swarm_replica', state: 'streaming' });
    expect(replicaSql('SELECT pg_is_in_recovery()')).toBe('t');
    const gateways = replicas('api-gateway');
    await until(
      'every gateway measuring the replica up',
      async () => {
        const up = await promQuery('db_replica_up{service="api-gateway"} == 1');
        return up.length === gateways ? true : undefined;
      },
      60_000,
      2_000,
    );

    await crossingPair();
    await until(
      'the trade on the replica',
      () => (replicaSql(`SELECT count(*) FROM trades WHERE symbol = '${symbol}'`) === '1' ? true : undefined),
      30_000,
      500,
    );
    const before = await readsBy('replica');
    await historyReads();
    const after = await until(
      'history reads of every kind counted on the replica',
      async () => {
        const now = await readsBy('replica');
        return KINDS.every((k) => (now[k] ?? 0) > (before[k] ?? 0)) ? now : undefined;
      },
      30_000,
      2_000,
    );
    const lag = await promQuery('max(db_replica_lag_seconds{service="api-gateway"})');
    log(
      `replica reads by kind: ${JSON.stringify(Object.fromEntries(KINDS.map((k) => [k, (after[k] ?? 0) - (before[k] ?? 0)])))}; ` +
        `lag ${lag[0]?.value} s`,
    );
    expect(lag[0]?.value).toBeLessThan(2);
    // The alerts that say the replica needs a look are loaded and quiet.
    const rules = (await (await fetch(`${PROMETHEUS_URL}/api/v1/rules?type=alert`)).json()) as {
      data: { groups: { name: string; rules: { name: string; health: string; state: string }[] }[] };
    };
    const group = rules.data.groups.find((g) => g.name === 'platform-database-replica');
    expect(group?.rules.map((r) => [r.name, r.health, r.state]).sort()).toEqual([
      ['DatabaseReplicaDown', 'ok', 'inactive'],
      ['DatabaseReplicaLagging', 'ok', 'inactive'],
    ]);

    // Replay paused: past DATABASE_REPLICA_MAX_LAG_MS (2 s) the reads go to the primary.
    replicaSql('SELECT pg_wal_replay_pause()');
    try {
      await crossingPair();
      const primaryBefore = await readsBy('primary');
      const onPrimary = Date.now();
      await until(
        'history reads on the primary while the replica lags',
        async () => {
          await historyReads(1);
          const now = await readsBy('primary');
          return (now.trades ?? 0) > (primaryBefore.trades ?? 0) ? true : undefined;
        },
        45_000,
        2_000,
      );
      const lagging = await promQuery('max(db_replica_lag_seconds{service="api-gateway"})');
      log(
        `replay paused: reads on the primary after ${((Date.now() - onPrimary) / 1000).toFixed(1)} s (lag ${lagging[0]?.value} s)`,
      );
    } finally {
      replicaSql('SELECT pg_wal_replay_resume()');
    }
    await until(
      'the replica caught up',
      () => (replicaSql(`SELECT count(*) FROM trades WHERE symbol = '${symbol}'`) === '2' ? true : undefined),
      30_000,
      500,
    );
    log(`history reads checked in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  });

  it(`Redis primary SIGKILLed under ${RATE} orders/s: the replica promoted, orders flow again, nothing lost, the old primary rejoins`, async () => {
    const accounts: LoadAccount[] = await Promise.all(
      [0, 1, 2, 3].map((i) =>
        api.fundedAccount(operator, `ha-load-${run}-${i}`, `ha load ${i}`, {
          USDT: '10000000',
          [base]: '100000',
        }),
      ),
    );
    for (const name of [...REDIS_NODES, ...SENTINELS]) await converged(name);
    const addresses = Object.fromEntries(REDIS_NODES.map((n) => [n, addressOf(n)]));
    const primary = REDIS_NODES.find((n) => addresses[n] === sentinelPrimary()) as string;
    expect(REDIS_NODES).toContain(primary);
    const other = REDIS_NODES.find((n) => n !== primary) as string;
    const apps = Object.fromEntries(APP_SERVICES.map((s) => [s, containers(s).sort()]));

    const load = new ChaosLoad(GATEWAY_URL, accounts, [{ symbol, midTicks: 1_000_000 }], RATE, `h${run}`);
    load.start();
    await until('orders flowing', () => (load.stats.acknowledged > RATE * 3 ? true : undefined), 30_000, 200);
    const [victim] = containers(primary);
    const killedAt = Date.now();
    docker('kill', '--signal', 'KILL', victim);
    await until(
      'a sentinel naming the replica as primary',
      () => (sentinelPrimary() === addresses[other] ? true : undefined),
      60_000,
      200,
    );
    const promotedMs = Date.now() - killedAt;
    const ackedAtPromotion = load.stats.acknowledged;
    await until(
      'orders acknowledged after the promotion',
      () => (load.stats.acknowledged > ackedAtPromotion + RATE * 3 ? true : undefined),
      60_000,
      200,
    );
    const resumedMs = Date.now() - killedAt;
    // 503s with Retry-After during the switch: when they were.
    const failed = load.failedAttempts.filter((f) => f.at >= killedAt);
    const window = failed.length > 0 ? (failed[failed.length - 1].at - killedAt) / 1000 : 0;

    // Swarm replaces the killed task (at a new address); it rejoins as a replica of the promoted
    // node, and every sentinel lists it as a live replica it could promote (and CKQUORUM is ok).
    await converged(primary, [victim]);
    const rejoined = addressOf(primary);
    await until(
      `${primary} replicating ${other}`,
      () => {
        const info = redisCli(primary, 'info', 'replication');
        return info.includes('role:slave') &&
          info.includes(`master_host:${addresses[other]}`) &&
          info.includes('master_link_status:up')
          ? true
          : undefined;
      },
      60_000,
      1_000,
    );
    const rejoinedMs = Date.now() - killedAt;
    await until(
      'every sentinel with a live record of the rejoined replica',
      () => {
        for (const s of SENTINELS) {
          const lines = redisCli(s, '-p', '26379', 'sentinel', 'replicas', 'exchange');
          const at = lines.indexOf(`${rejoined}:6379`);
          const flags = at >= 0 ? lines[lines.indexOf('flags', at) + 1] : undefined;
          if (flags !== 'slave') return undefined;
          if (!redisCli(s, '-p', '26379', 'sentinel', 'ckquorum', 'exchange')[0]?.startsWith('OK'))
            return undefined;
        }
        return true;
      },
      120_000,
      2_000,
    );
    const sentinelsReadyMs = Date.now() - killedAt;
    await sleep(3_000);
    await load.stop(60_000);

    log(
      `killed ${primary}: ${other} promoted after ${(promotedMs / 1000).toFixed(1)} s, orders acknowledged again after ` +
        `${(resumedMs / 1000).toFixed(1)} s; ${failed.length} failed attempts (retried) within ${window.toFixed(1)} s of the kill: ` +
        `${JSON.stringify(load.stats.failures)}; ${primary} back as a replica after ${(rejoinedMs / 1000).toFixed(1)} s, ` +
        `every sentinel able to promote it after ${(sentinelsReadyMs / 1000).toFixed(1)} s`,
    );
    log(`load: ${JSON.stringify(load.stats)}`);
    // During the switch only 503 with Retry-After; no other 5xx, no refused connection.
    expect(Object.keys(load.stats.failures).filter((k) => !k.startsWith('503'))).toEqual([]);
    expect(load.stats.unavailableWithoutRetryAfter).toBe(0);
    // No app task was restarted: they followed the sentinels.
    expect(Object.fromEntries(APP_SERVICES.map((s) => [s, containers(s).sort()]))).toEqual(apps);
    await nothingLostOrDoubled(load, symbol, log);
  });
});
