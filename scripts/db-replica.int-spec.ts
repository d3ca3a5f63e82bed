import { execFileSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { DataSource } from 'typeorm';
import { ExchangeClient, type ApiResponse, type Credentials } from './testing/exchange-client';
import {
  ensureServices,
  infraPid,
  infraUp,
  nativeEnv,
  secret,
  startService,
  stopProcess,
  testPort,
  waitReady,
  type RunningServices,
} from './testing/native-services';
import { openTestMarket } from './testing/test-market';
import { until } from './testing/until';

// History reads on the PostgreSQL replica (issue 23, native/lib/postgres.sh, @trading/db
// HistoryReadRouter). A gateway of its own, configured with the replica (DATABASE_REPLICA_NAME
// from native/.run/env) and a lag bound of 1 s, answers each kind of history read: candles,
// public trades, order history, fills, ledger; its db_history_reads_total{kind,server} says which
// server answered. Healthy replica: the replica. Replay paused on the replica and a new trade:
// once the lag passes the bound, the primary, with the new trade the replica does not have.
// Replay resumed: the replica again. Replica stopped: the primary, without an error; started
// again by `native/infra.sh up`: the replica. An order just placed, open orders and balances
// never go to the replica.
const root = join(__dirname, '..');
const env = nativeEnv();
const PORT = testPort(18786);
const api = new ExchangeClient(`http://127.0.0.1:${PORT}`);
const run = randomUUID().replace(/-/g, '').slice(0, 6).toUpperCase();
const base = `R${run}`;
const symbol = `${base}-USDT`;
const MAX_LAG_MS = 1000;

type Kind = 'candles' | 'trades' | 'orders' | 'fills' | 'ledger';
type Server = 'replica' | 'primary';
type Json = Record<string, unknown>;

/** psql as the postgres OS user on the replica's socket (native/lib/postgres.sh pg_sql). */
function replicaSql(sql: string): string {
  return execFileSync(
    'bash',
    [
      '-c',
      '. native/lib/common.sh && . native/lib/install.sh && . native/lib/postgres.sh && pg_sql "$PG_REPLICA_PORT" "$PG_DATABASE" "$1"',
      'replica-sql',
      sql,
    ],
    { cwd: root, encoding: 'utf8' },
  ).trim();
}

/** The gateway's metrics: history reads by kind and server, and the replica lag it measured. */
async function metrics(): Promise<{ reads: Map<string, number>; lagSeconds: number; up: number }> {
  const text = await (await fetch(`http://127.0.0.1:${PORT}/metrics`)).text();
  const reads = new Map<string, number>();
  for (const m of text.matchAll(/^db_history_reads_total\{([^}]*)\} (\S+)$/gm)) {
    const kind = /kind="([^"]+)"/.exec(m[1])?.[1];
    const server = /server="([^"]+)"/.exec(m[1])?.[1];
    reads.set(`${kind}/${server}`, Number(m[2]));
  }
  const gauge = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1]);
  return { reads, lagSeconds: gauge('db_replica_lag_seconds'), up: gauge('db_replica_up') };
}

describe('history reads on the PostgreSQL replica, with fallback to the primary', () => {
  jest.setTimeout(240_000);
  let services: RunningServices;
  let gateway: ChildProcess;
  let db: DataSource;
  let replica: DataSource;
  let seller: Credentials;
  let buyer: Credentials & { accountId: string };
  let lastTrade = 0;

  /** One read of each kind, as the client sees it, with the id that shows how fresh it is. */
  const READS: Record<Kind, () => Promise<ApiResponse<Json>>> = {
    candles: () => api.public(`/v1/markets/${symbol}/candles?interval=1m&limit=60`),
    trades: () => api.public(`/api/v3/trades?symbol=${base}USDT&limit=50`),
    orders: () => api.signed(buyer, 'GET', `/v1/orders?symbol=${symbol}&status=filled&limit=50`),
    fills: () => api.signed(buyer, 'GET', `/v1/fills?symbol=${symbol}&limit=50`),
    ledger: () => api.signed(buyer, 'GET', '/v1/ledger?limit=100'),
  };
  /** How many trades of the market each answer shows (all of this test's trades are the buyer's). */
  const tradesIn = (kind: Kind, body: unknown): number => {
    const rows = (Array.isArray(body) ? body : ((body as Json).data as Json[])) as Json[];
    if (kind === 'candles') return rows.reduce((n, c) => n + Number(c.trades), 0);
    if (kind === 'ledger') return rows.filter((e) => e.kind === 'trade' && e.asset === base).length;
    return rows.length;
  };

  /** Does one read of `kind`; returns the server that answered (by the counters) and the trades shown. */
  async function read(kind: Kind): Promise<{ server: Server; trades: number }> {
    const before = (await metrics()).reads;
    const res = await READS[kind]();
    expect({ kind, status: res.status }).toEqual({ kind, status: 200 });
    const after = (await metrics()).reads;
    const grew = (['replica', 'primary'] as const).filter(
      (s) => (after.get(`${kind}/${s}`) ?? 0) > (before.get(`${kind}/${s}`) ?? 0),
    );
    expect({ kind, grew: grew.length }).toEqual({ kind, grew: 1 });
    return { server: grew[0], trades: tradesIn(kind, res.body) };
  }

  async function readAll(): Promise<Record<Kind, { server: Server; trades: number }>> {
    const out = {} as Record<Kind, { server: Server; trades: number }>;
    for (const kind of Object.keys(READS) as Kind[]) out[kind] = await read(kind);
    return out;
  }

  /** A crossing pair: the buyer's order fills at once against the seller's; resolves once it is settled. */
  async function trade(): Promise<string> {
    lastTrade++;
    const order = { symbol, type: 'limit', price: '10.00', quantity: '0.1' };
    const sell = await api.signed(seller, 'POST', '/v1/orders', { ...order, side: 'sell' });
    expect(sell.status).toBe(202);
    const buy = await api.signed(buyer, 'POST', '/v1/orders', { ...order, side: 'buy' });
    expect(buy.status).toBe(202);
    const orderId = String(buy.body.orderId);
    await until('the trade settled on the primary', async () => {
      const [r] = (await db.query(
        `SELECT count(*)::int AS n FROM ledger WHERE account_id = $1 AND asset = $2 AND kind = 'trade'`,
        [buyer.accountId, base],
      )) as { n: number }[];
      return r.n >= lastTrade ? true : undefined;
    });
    return orderId;
  }

  const replicaTrades = async (): Promise<number> =>
    (
      (await replica.query(`SELECT count(*)::int AS n FROM trades WHERE symbol = $1`, [symbol])) as {
        n: number;
      }[]
    )[0].n;

  /** Polls until every kind is read from `server`; returns how long that took. */
  async function untilAllFrom(server: Server, what: string, timeoutMs = 30_000): Promise<number> {
    const started = Date.now();
    await until(
      what,
      async () => {
        const all = await readAll();
        return (Object.values(all) as { server: Server }[]).every((r) => r.server === server)
          ? true
          : undefined;
      },
      timeoutMs,
      250,
    );
    return Date.now() - started;
  }

  beforeAll(async () => {
    infraUp();
    expect(env.DATABASE_REPLICA_NAME).toBeTruthy();
    services = await ensureServices();
    // Its log (the switches between the servers) next to the platform's.
    const log = openSync(join(root, 'native/.run/logs/api-gateway-replica-test.log'), 'a');
    gateway = startService(
      'api-gateway',
      PORT,
      'replica-test',
      { DATABASE_REPLICA_MAX_LAG_MS: String(MAX_LAG_MS), LOG_LEVEL: 'info' },
      log,
    );
    closeSync(log);
    await waitReady(PORT, gateway);
    db = await openTestMarket('db-replica-test', symbol, base);
    replica = new DataSource({
      type: 'postgres',
      host: '127.0.0.1',
      port: Number(env.DATABASE_REPLICA_DIRECT_PORT),
      database: env.DATABASE_NAME,
      username: env.DATABASE_USER,
      password: secret('pg_password'),
      applicationName: 'db-replica-test',
    });
    await replica.initialize();
    const operator = secret('operator_token');
    seller = await api.fundedAccount(operator, `rr-seller-${run}`, 'db-replica', { [base]: '100' });
    buyer = await api.fundedAccount(operator, `rr-buyer-${run}`, 'db-replica', { USDT: '100000' });
    await api.marketsListed([symbol]);
  });

  afterAll(async () => {
    // Whatever happened: replay on, the replica running, for the next suite.
    try {
      replicaSql('SELECT pg_wal_replay_resume()');
    } catch {
      // stopped: infraUp starts it
    }
    infraUp();
    await replica?.destroy();
    await db?.destroy();
    if (gateway) await stopProcess(gateway);
    await services?.stop();
  });

  it('reads history from the replica, from the primary past the lag bound or without the replica, and back', async () => {
    await trade();
    // 1. Healthy replica: every kind of history read is the replica's, and it has the trade.
    await untilAllFrom('replica', 'history reads on the replica');
    const healthy = await readAll();
    for (const [kind, r] of Object.entries(healthy))
      expect({ kind, ...r }).toEqual({ kind, server: 'replica', trades: 1 });
    const lagHealthy = (await metrics()).lagSeconds;
    expect(lagHealthy).toBeLessThan(MAX_LAG_MS / 1000);

    // 2. Replay paused on the replica, then a new trade: the replica lacks it; past the bound the
    // primary answers, with it.
    replicaSql('SELECT pg_wal_replay_pause()');
    const pausedAt = Date.now();
    const orderId = await trade();
    // Read-your-own-writes never wait for the replica: the order just placed and the balance.
    const own = await api.signed(buyer, 'GET', `/v1/orders/${orderId}`);
    expect({ status: own.status, filled: own.body.status }).toEqual({ status: 200, filled: 'filled' });
    expect(await replicaTrades()).toBe(1);
    const toPrimaryMs = await untilAllFrom('primary', 'history reads on the primary while replay is paused');
    const paused = await readAll();
    for (const [kind, r] of Object.entries(paused))
      expect({ kind, ...r }).toEqual({ kind, server: 'primary', trades: 2 });
    const lagPaused = (await metrics()).lagSeconds;
    expect(lagPaused).toBeGreaterThan(MAX_LAG_MS / 1000);
    expect(await replicaTrades()).toBe(1); // still paused: those answers were not the replica's
    const switchedAfterMs = Date.now() - pausedAt;

    // 3. Replay resumed: back to the replica, which has caught up.
    replicaSql('SELECT pg_wal_replay_resume()');
    const backMs = await untilAllFrom('replica', 'history reads back on the replica');
    expect(await replicaTrades()).toBe(2);
    for (const [kind, r] of Object.entries(await readAll()))
      expect({ kind, ...r }).toEqual({ kind, server: 'replica', trades: 2 });

    // 4. Replica stopped: every read still answers, from the primary.
    const stoppedAt = Date.now();
    process.kill(infraPid('postgres-replica'), 'SIGINT');
    await until('the replica stopped', () => {
      try {
        process.kill(infraPid('postgres-replica'), 0);
        return undefined;
      } catch {
        return true;
      }
    });
    await trade();
    const downMs = await untilAllFrom('primary', 'history reads on the primary without the replica');
    for (const [kind, r] of Object.entries(await readAll()))
      expect({ kind, ...r }).toEqual({ kind, server: 'primary', trades: 3 });
    expect((await metrics()).up).toBe(0);
    const downAfterMs = Date.now() - stoppedAt;

    // 5. The replica started again (`infra.sh up`): it catches up and answers again.
    infraUp();
    const upAgainMs = await untilAllFrom('replica', 'history reads on the restarted replica');
    for (const [kind, r] of Object.entries(await readAll()))
      expect({ kind, ...r }).toEqual({ kind, server: 'replica', trades: 3 });

    const counts = Object.fromEntries((await metrics()).reads);
    console.log(
      `[db-replica] lag healthy ${lagHealthy} s, paused ${lagPaused} s (bound ${MAX_LAG_MS / 1000} s); ` +
        `replay paused: primary answering after ${toPrimaryMs} ms of polling (${switchedAfterMs} ms after the pause); ` +
        `resumed: replica again after ${backMs} ms; replica stopped: all reads answered, on the primary after ${downMs} ms ` +
        `(${downAfterMs} ms after SIGINT); restarted: replica after ${upAgainMs} ms; reads ${JSON.stringify(counts)}`,
    );
  });
});
