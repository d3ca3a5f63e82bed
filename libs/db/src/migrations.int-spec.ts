import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { DataSource } from 'typeorm';
import { databaseSchema, loadConfig } from '@trading/config';
import { ReconciliationRepository } from './repositories/reconciliation.repository';
import { ConsumerOffsetsRepository } from './repositories/consumer-offsets.repository';
import { RouterBatchRepository } from './repositories/router-batch.repository';
import { RouterOutboxRepository } from './repositories/router-outbox.repository';
import { MIGRATIONS } from './schema';
import {
  createScratchDatabase,
  insertSampleData,
  tableChecksum,
  tableColumns,
  type ScratchDatabase,
} from './testing/scratch-database';

// Migrations are forward-only and must carry existing data across. On a scratch database (real
// PostgreSQL, direct port): every migration but the last, then a realistic data set written
// through SQL, then the last migration. Every row of every table keeps the values of the columns
// it had, the money still reconciles, no constraint is left unvalidated, and the last migration's
// own effect on old rows is what its check below says.
//
// Forward-only means: the runner (migrate.main.ts) only ever calls runMigrations, nothing in the
// repository reverts (undoLastMigration, typeorm migration:revert), and every migration's down()
// throws instead of dropping anything. A fix is a new migration.
const config = loadConfig(databaseSchema);
const root = join(__dirname, '../../..');

/**
 * What each migration must do to rows that existed before it. The last migration must have an
 * entry: adding a migration means saying here what it does to data already in production.
 */
const DATA_CHECKS: Record<string, (ds: DataSource) => Promise<void>> = {
  OrderAmendsInFlight1732407200000: async (ds) => {
    // A new table, empty: no order of before it has amends in flight on record (a router restarted
    // onto it with amends in flight behaves as before, once; docs/reliability.md).
    expect(await ds.query(`SELECT count(*)::int AS n FROM order_amends_in_flight`)).toEqual([{ n: 0 }]);
    await expect(
      ds.query(`INSERT INTO order_amends_in_flight (order_id, amends) VALUES ('o', NULL)`),
    ).rejects.toThrow(/null/i);
  },
  AccountStream1732407100000: async (ds) => {
    // Two new tables, empty: existing accounts are at seq 0 (no stream update sent yet) and
    // nothing is waiting to be sent; a seq is positive.
    expect(await ds.query(`SELECT count(*)::int AS n FROM account_stream_seq`)).toEqual([{ n: 0 }]);
    expect(await ds.query(`SELECT count(*)::int AS n FROM account_events_outbox`)).toEqual([{ n: 0 }]);
    await expect(
      ds.query(`INSERT INTO account_stream_seq (account_id, seq) VALUES ('a', 0)`),
    ).rejects.toThrow(/check/i);
  },
  MarketPriceBand1732407000000: async (ds) => {
    // Two nullable columns: every existing market has no band (what the engine applied before),
    // and a band whose minimum is above its maximum cannot be stored.
    expect(
      await ds.query(
        `SELECT count(*)::int AS n FROM markets WHERE price_band_min IS NOT NULL OR price_band_max IS NOT NULL`,
      ),
    ).toEqual([{ n: 0 }]);
    const [{ symbol }] = (await ds.query(`SELECT symbol FROM markets LIMIT 1`)) as { symbol: string }[];
    await expect(
      ds.query(`UPDATE markets SET price_band_min = 2, price_band_max = 1 WHERE symbol = $1`, [symbol]),
    ).rejects.toThrow(/markets_price_band_order/);
  },
  RouterGroupCommit1732406900000: async (ds) => {
    // Only a function is added. A group over old rows writes them like the single-batch functions:
    // a stale order state does not overwrite a newer one, a replayed ledger key moves nothing, and
    // every member's offset is stored.
    const [order] = (await ds.query(
      `SELECT order_id, account_id, symbol, last_seq::int AS last_seq, qty::text AS qty FROM orders WHERE last_seq > 0 LIMIT 1`,
    )) as { order_id: string; account_id: string; symbol: string; last_seq: number; qty: string }[];
    const [entry] = (await ds.query(
      `SELECT entry_key, account_id, asset, available_delta::text AS a, held_delta::text AS h, kind, ref FROM ledger LIMIT 1`,
    )) as {
      entry_key: string;
      account_id: string;
      asset: string;
      a: string;
      h: string;
      kind: string;
      ref: string;
    }[];
    const group = 'migtest-group';
    const offset = (topic: string, partition: number, nextOffset: number) => ({
      groupId: group,
      topic,
      partition,
      nextOffset,
    });
    await new RouterBatchRepository(ds).commitGroup([
      {
        kind: 'updates',
        batch: {
          events: [],
          states: [
            {
              orderId: order.order_id,
              accountId: order.account_id,
              symbol: order.symbol,
              side: 'buy',
              orderType: 'limit',
              price: null,
              protectionPrice: null,
              quoteBudget: null,
              qty: 1,
              filledQty: 0,
              filledNotional: 0n,
              status: 'cancelled',
              reason: null,
              lastSeq: order.last_seq - 1,
              holdAsset: null,
              holdRemaining: 0n,
              makerFeeBps: 0,
              takerFeeBps: 0,
            },
          ],
          ledger: [
            {
              key: entry.entry_key,
              accountId: entry.account_id,
              asset: entry.asset,
              availableDelta: BigInt(entry.a),
              heldDelta: BigInt(entry.h),
              kind: entry.kind,
              ref: entry.ref,
            },
          ],
          offset: offset('orders.updates.v2', 7, 70),
        },
      },
      {
        kind: 'commands',
        batch: {
          orders: [],
          states: [],
          ledger: [],
          outbox: { partition: 8, pruneBefore: 0, rows: [] },
          offset: offset('orders.commands.v1', 8, 80),
        },
      },
    ]);
    expect(
      await ds.query(`SELECT qty::text AS qty FROM orders WHERE order_id = $1`, [order.order_id]),
    ).toEqual([{ qty: order.qty }]);
    expect(await new ReconciliationRepository(ds).all()).toEqual([]);
    const offsets = new ConsumerOffsetsRepository(ds);
    expect(await offsets.load(group, 'orders.updates.v2', 7)).toBe(70);
    expect(await offsets.load(group, 'orders.commands.v1', 8)).toBe(80);
  },
  SettlementWritePath1732406800000: async (ds) => {
    // Only indexes no query reads are gone; the natural keys that make replays no-ops stay.
    const indexes = (
      (await ds.query(
        `SELECT indexname FROM pg_indexes WHERE tablename IN ('ledger', 'order_events', 'orders') ORDER BY 1`,
      )) as { indexname: string }[]
    ).map((r) => r.indexname);
    expect(indexes).not.toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^(ledger_entry_id_uq|order_events_order_idx|orders_open_idx)$/),
      ]),
    );
    expect(indexes).toEqual(
      expect.arrayContaining([
        'ledger_pkey',
        'ledger_account_idx',
        'order_events_pkey',
        'orders_client_order_id_uq',
      ]),
    );
    // The functions write old rows' tables like the statements they replace: a replayed ledger key
    // moves nothing, a stale order state does not overwrite a newer one.
    const [order] = (await ds.query(
      `SELECT order_id, account_id, last_seq::int AS last_seq, qty::text AS qty FROM orders WHERE last_seq > 0 LIMIT 1`,
    )) as { order_id: string; account_id: string; last_seq: number; qty: string }[];
    const post = `SELECT post_ledger(ARRAY['migtest:deposit'], ARRAY[$1], ARRAY['USDT'], ARRAY[5]::bigint[], ARRAY[0]::bigint[], ARRAY['deposit'], ARRAY['migtest']) AS n`;
    expect(await ds.query(post, [order.account_id])).toEqual([{ n: 1 }]);
    expect(await ds.query(post, [order.account_id])).toEqual([{ n: 0 }]);
    await ds.query(
      `SELECT update_order_states(ARRAY[$1], ARRAY[NULL]::bigint[], ARRAY[1]::bigint[], ARRAY[0]::bigint[], ARRAY[0]::bigint[],
                                  ARRAY['cancelled'], ARRAY[NULL], ARRAY[$2 - 1]::bigint[], ARRAY[0]::bigint[])`,
      [order.order_id, order.last_seq],
    );
    expect(
      await ds.query(`SELECT qty::text AS qty FROM orders WHERE order_id = $1`, [order.order_id]),
    ).toEqual([{ qty: order.qty }]);
    expect(await new ReconciliationRepository(ds).all()).toEqual([]);
    // A command routed before the migration (one row per command) is still sent, before the
    // batches written after it, and pruned with them.
    const outbox = new RouterOutboxRepository(ds);
    const legacy = await outbox.pending(3);
    expect(legacy).toEqual([
      {
        partition: 3,
        offset: 1021,
        topic: 'orders.sequenced.v1',
        key: 'BTC-USDT',
        payload: '{"sample":true}',
      },
    ]);
    const routed = [1030, 1031].map((offset) => ({
      partition: 3,
      offset,
      topic: 'orders.sequenced.v1',
      key: 'ETH-USDT',
      payload: `{"o":${offset}}`,
    }));
    await outbox.add(routed, ds);
    expect(await outbox.pending(3)).toEqual([...legacy, ...routed]);
    await outbox.prune(3, 1030, ds);
    expect(await outbox.pending(3)).toEqual(routed);
    await outbox.prune(3, 1032, ds);
    expect(await outbox.pending(3)).toEqual([]);
  },
  OrderFeeRates1732406700000: async (ds) => {
    // Orders placed before the fee columns existed get 0/0 (the column default), not the market's
    // rates: an order still open across this migration trades without fees.
    const [old] = (await ds.query(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE maker_fee_bps = 0 AND taker_fee_bps = 0)::int AS zero FROM orders`,
    )) as { n: number; zero: number }[];
    expect(old.n).toBeGreaterThan(0);
    expect(old.zero).toBe(old.n);
    // The new columns are NOT NULL from now on.
    await expect(
      ds.query(`UPDATE orders SET maker_fee_bps = NULL WHERE order_id = (SELECT min(order_id) FROM orders)`),
    ).rejects.toThrow(/null value/);
  },
};

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (['node_modules', 'dist', '.run', '.cache', '.git', '.nx', 'tmp', 'coverage'].includes(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sourceFiles(path, out);
    else if (/\.(ts|js|mjs|sh|json|ya?ml)$/.test(name)) out.push(path);
  }
  return out;
}

describe('migrations carry existing data forward', () => {
  jest.setTimeout(120_000);
  let scratch: ScratchDatabase;
  let ds: DataSource;

  beforeAll(async () => {
    scratch = await createScratchDatabase(config, 'migtest');
  });

  afterAll(async () => {
    if (ds?.isInitialized) await ds.destroy();
    await scratch?.drop();
  });

  it('applies the last migration to a database with data and loses nothing', async () => {
    const last = MIGRATIONS[MIGRATIONS.length - 1];
    expect(DATA_CHECKS[last.name]).toBeDefined();

    ds = scratch.dataSource('migtest-before', MIGRATIONS.slice(0, -1));
    await ds.initialize();
    const first = await ds.runMigrations({ transaction: 'each' });
    expect(first.map((m) => m.name)).toEqual(MIGRATIONS.slice(0, -1).map((m) => m.name));
    const written = await insertSampleData(ds);
    expect(written.trades).toBeGreaterThanOrEqual(60);
    expect(await new ReconciliationRepository(ds).all()).toEqual([]);
    // schema_migrations is the one table a migration is meant to change.
    const { schema_migrations: _bookkeeping, ...columns } = await tableColumns(ds);
    expect(Object.keys(columns)).toEqual(expect.arrayContaining(['orders', 'trades', 'ledger', 'balances']));
    const before: Record<string, { rows: number; md5: string }> = {};
    for (const [table, cols] of Object.entries(columns)) before[table] = await tableChecksum(ds, table, cols);
    expect(before.orders.rows).toBe(written.orders);
    expect(before.ledger.rows).toBe(written.ledger);
    await ds.destroy();

    ds = scratch.dataSource('migtest-after', MIGRATIONS);
    await ds.initialize();
    const rest = await ds.runMigrations({ transaction: 'each' });
    expect(rest.map((m) => m.name)).toEqual([last.name]);

    // Same rows, same values in every column that existed before (tables kept, none dropped).
    const after = await tableColumns(ds);
    for (const [table, cols] of Object.entries(columns)) {
      expect(after[table]).toEqual(expect.arrayContaining(cols));
      expect({ table, ...(await tableChecksum(ds, table, cols)) }).toEqual({ table, ...before[table] });
    }
    // Nothing left NOT VALID (a constraint that old rows were never checked against).
    expect(
      await ds.query(
        `SELECT conrelid::regclass::text AS tbl, conname FROM pg_constraint WHERE NOT convalidated`,
      ),
    ).toEqual([]);
    expect(await new ReconciliationRepository(ds).all()).toEqual([]);
    await DATA_CHECKS[last.name](ds);
  });

  it('never reverts: every down() refuses, and nothing calls a revert', async () => {
    const runner = ds.createQueryRunner();
    try {
      for (const M of MIGRATIONS) {
        const down = new M().down as (q: typeof runner) => Promise<void>;
        await expect(down(runner)).rejects.toThrow(/forward-only/);
      }
    } finally {
      await runner.release();
    }
    // The schema is untouched by those calls.
    const [{ n }] = (await ds.query(`SELECT count(*)::int AS n FROM schema_migrations`)) as { n: number }[];
    expect(n).toBe(MIGRATIONS.length);

    const self = relative(root, __filename);
    const offenders = sourceFiles(root)
      .filter((f) => relative(root, f) !== self)
      .filter((f) => /undoLastMigration|migration:revert|migrations:revert/.test(readFileSync(f, 'utf8')))
      .map((f) => relative(root, f));
    expect(offenders).toEqual([]);
    expect(readFileSync(join(__dirname, 'migrate.main.ts'), 'utf8')).toMatch(/runMigrations\(/);
  });
});
