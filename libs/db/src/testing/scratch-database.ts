import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { DatabaseConfig } from '@trading/config';
import { createDataSource } from '../data-source.factory';

// Test support (not exported by @trading/db): throw-away databases on the direct PostgreSQL port,
// and a small but complete exchange data set written through plain SQL whose money reconciles.
// Used by the migration test (libs/db/src/migrations.int-spec.ts) and the backup/restore test
// (scripts/db-backup.int-spec.ts).

export interface ScratchDatabase {
  name: string;
  config: DatabaseConfig;
  /** A direct-connection data source on the scratch database (not initialised). */
  dataSource(
    applicationName: string,
    migrations?: Parameters<typeof createDataSource>[1]['migrations'],
  ): DataSource;
  drop(): Promise<void>;
}

/** Runs one statement on the maintenance database (CREATE/DROP DATABASE need no transaction). */
export async function adminQuery(config: DatabaseConfig, sql: string): Promise<unknown> {
  const ds = createDataSource(
    { ...config, DATABASE_NAME: 'postgres' },
    { direct: true, applicationName: 'scratch' },
  );
  await ds.initialize();
  try {
    return await ds.query(sql);
  } finally {
    await ds.destroy();
  }
}

/** A database name that is safe to quote and to clean up: `<prefix>_<random>`, lower case. */
export function scratchName(prefix: string): string {
  if (!/^[a-z][a-z0-9_]{0,30}$/.test(prefix)) throw new Error(`bad scratch database prefix ${prefix}`);
  return `${prefix}_${randomUUID().replace(/-/g, '').slice(0, 10)}`;
}

/** A handle on a database that may or may not exist yet (created by `createScratchDatabase` or a tool). */
export function scratchDatabase(config: DatabaseConfig, name: string): ScratchDatabase {
  const own: DatabaseConfig = { ...config, DATABASE_NAME: name };
  return {
    name,
    config: own,
    dataSource: (applicationName, migrations) =>
      createDataSource(own, { direct: true, applicationName, migrations: migrations ?? [] }),
    // A plain DROP makes autovacuum workers leave (FORCE would need the right to signal them, a
    // superuser's backends); FORCE then for a connection a test that failed half way left open.
    drop: async () => {
      try {
        await adminQuery(config, `DROP DATABASE IF EXISTS "${name}"`);
      } catch {
        await adminQuery(config, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      }
    },
  };
}

/** CREATE DATABASE as the application role (it has CREATEDB; see native/lib/postgres.sh). */
export async function createScratchDatabase(
  config: DatabaseConfig,
  prefix: string,
): Promise<ScratchDatabase> {
  const db = scratchDatabase(config, scratchName(prefix));
  await adminQuery(config, `CREATE DATABASE "${db.name}"`);
  return db;
}

// ---------------------------------------------------------------------------------------------
// Sample data: two markets, ten traders and the fee account, deposits, filled orders on both
// sides of 60 trades with their holds, fills, fees and releases in the ledger, resting orders
// that still hold funds, order events, API keys, consumer offsets, an outbox row and an engine
// snapshot. Balances are the ledger summed, so ReconciliationRepository finds nothing off.
// Columns are the ones of migration BalancesLedger1732406600000; later columns take defaults.

const FEE_ACCOUNT = 'fee';
const BPS = 10_000n;
const feeFor = (quote: bigint, bps: number): bigint => (quote * BigInt(bps) + BPS - 1n) / BPS;

interface SampleMarket {
  symbol: string;
  base: string;
  quote: string;
  /** smallest quote units per (tick x lot), smallest base units per lot */
  quotePerTickLot: bigint;
  basePerLot: bigint;
  midTicks: number;
  makerFeeBps: number;
  takerFeeBps: number;
}

const MARKETS: SampleMarket[] = [
  // tick 0.01 USDT (6 decimals), lot 0.0001 BTC (8 decimals): 0.01 x 0.0001 x 10^6 = 1 unit
  {
    symbol: 'BTC-USDT',
    base: 'BTC',
    quote: 'USDT',
    quotePerTickLot: 1n,
    basePerLot: 10_000n,
    midTicks: 3_000_000,
    makerFeeBps: 10,
    takerFeeBps: 20,
  },
  // tick 0.01, lot 0.001 ETH: 0.01 x 0.001 x 10^6 = 10 units
  {
    symbol: 'ETH-USDT',
    base: 'ETH',
    quote: 'USDT',
    quotePerTickLot: 10n,
    basePerLot: 100_000n,
    midTicks: 200_000,
    makerFeeBps: 5,
    takerFeeBps: 15,
  },
];

export interface SampleCounts {
  accounts: number;
  orders: number;
  trades: number;
  ledger: number;
  balances: number;
}

/** Inserts the sample data set; returns what it wrote. Deterministic apart from nothing. */
export async function insertSampleData(ds: DataSource): Promise<SampleCounts> {
  const traders = Array.from({ length: 10 }, (_, i) => `trader-${String(i).padStart(2, '0')}`);
  const ledger: [string, string, string, bigint, bigint, string, string][] = [];
  const orders: Record<string, unknown>[] = [];
  const trades: Record<string, unknown>[] = [];
  const events: Record<string, unknown>[] = [];
  const entry = (
    key: string,
    account: string,
    asset: string,
    avail: bigint,
    held: bigint,
    kind: string,
    ref: string,
  ) => ledger.push([key, account, asset, avail, held, kind, ref]);
  const t0 = Date.UTC(2025, 0, 15, 12, 0, 0);

  await ds.query(`INSERT INTO assets (code, decimals) VALUES ('USDT', 6), ('BTC', 8), ('ETH', 8)`);
  await ds.query(`
    INSERT INTO markets (symbol, base_asset, quote_asset, tick_size, lot_size, min_notional, maker_fee_bps, taker_fee_bps)
    VALUES ('BTC-USDT', 'BTC', 'USDT', 0.01, 0.0001, 1, 10, 20), ('ETH-USDT', 'ETH', 'USDT', 0.01, 0.001, 1, 5, 15)`);
  await ds.query(
    `INSERT INTO accounts (account_id, name, kind) SELECT a, 'Trader ' || a, 'trader' FROM unnest($1::text[]) a
     UNION ALL SELECT $2, 'Exchange fees', 'fee'`,
    [traders, FEE_ACCOUNT],
  );
  await ds.query(
    `INSERT INTO api_keys (key_id, account_id, secret_enc, label, revoked_at)
     SELECT 'key-' || a, a, decode(md5(a), 'hex'), 'sample', CASE WHEN a = $2 THEN now() END FROM unnest($1::text[]) a`,
    [traders, traders[9]],
  );
  for (const a of traders) {
    entry(`deposit:${a}:USDT`, a, 'USDT', 5_000_000_000_000n, 0n, 'deposit', `dep-${a}-usdt`);
    entry(`deposit:${a}:BTC`, a, 'BTC', 2_000_000_000n, 0n, 'deposit', `dep-${a}-btc`);
    entry(`deposit:${a}:ETH`, a, 'ETH', 50_000_000_000n, 0n, 'deposit', `dep-${a}-eth`);
  }
  // A withdrawal: money leaving the exchange counts as external too.
  entry(`withdrawal:${traders[3]}:USDT`, traders[3], 'USDT', -1_000_000_000n, 0n, 'withdrawal', 'wd-1');

  let n = 0;
  const order = (
    m: SampleMarket,
    account: string,
    side: 'buy' | 'sell',
    priceTicks: number,
    lots: number,
    at: number,
  ): { id: string; hold: bigint; holdAsset: string } => {
    const id = `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`;
    const perLot = BigInt(priceTicks) * m.quotePerTickLot;
    const hold =
      side === 'buy'
        ? BigInt(lots) * (perLot + feeFor(perLot, Math.max(m.makerFeeBps, m.takerFeeBps)))
        : BigInt(lots) * m.basePerLot;
    const holdAsset = side === 'buy' ? m.quote : m.base;
    entry(`${m.symbol}:${n}:${id}:hold`, account, holdAsset, -hold, hold, 'hold', `${m.symbol}:${n}`);
    orders.push({
      order_id: id,
      account_id: account,
      symbol: m.symbol,
      client_order_id: `c-${n}`,
      side,
      order_type: 'limit',
      tif: 'GTC',
      price: priceTicks,
      qty: lots,
      filled_qty: 0,
      filled_notional: 0,
      status: 'new',
      received_at: new Date(at).toISOString(),
      hold_asset: holdAsset,
      hold_remaining: hold,
      last_seq: 0,
    });
    return { id, hold, holdAsset };
  };

  for (const m of MARKETS) {
    for (let t = 1; t <= 30; t++) {
      const at = t0 + t * 1000;
      const makerAccount = traders[t % 10];
      const takerAccount = traders[(t + 3) % 10];
      const makerSide = t % 2 === 0 ? 'sell' : 'buy';
      const takerSide = makerSide === 'sell' ? 'buy' : 'sell';
      const price = m.midTicks + ((t * 37) % 200) - 100;
      const lots = 1 + (t % 25);
      const maker = order(m, makerAccount, makerSide, price, lots, at);
      const taker = order(m, takerAccount, takerSide, price, lots, at + 1);
      const notional = BigInt(price) * BigInt(lots) * m.quotePerTickLot;
      const base = BigInt(lots) * m.basePerLot;
      const ref = `${m.symbol}:${t}`;
      for (const [o, account, side, role, bps] of [
        [maker, makerAccount, makerSide, 'maker', m.makerFeeBps],
        [taker, takerAccount, takerSide, 'taker', m.takerFeeBps],
      ] as const) {
        const fee = feeFor(notional, bps);
        const key = (leg: string) => `${ref}:${account}:${role}:${leg}`;
        if (side === 'buy') {
          entry(key('quote'), account, m.quote, 0n, -(notional + fee), 'trade', ref);
          entry(key('base'), account, m.base, base, 0n, 'trade', ref);
          const rest = o.hold - notional - fee;
          if (rest > 0n) entry(`${ref}:${o.id}:release`, account, m.quote, rest, -rest, 'release', ref);
        } else {
          entry(key('base'), account, m.base, 0n, -base, 'trade', ref);
          entry(key('quote'), account, m.quote, notional - fee, 0n, 'trade', ref);
        }
        entry(key('fee'), FEE_ACCOUNT, m.quote, fee, 0n, 'fee', ref);
        const row = orders.find((r) => r.order_id === o.id)!;
        Object.assign(row, {
          filled_qty: lots,
          filled_notional: BigInt(price) * BigInt(lots),
          status: 'filled',
          hold_remaining: 0n,
          last_seq: t,
        });
        events.push({
          symbol: m.symbol,
          seq: t,
          order_id: o.id,
          account_id: account,
          type: 'trade',
          payload: { type: 'trade', seq: t, price, qty: lots, role },
          emitted_at: new Date(at + 2).toISOString(),
        });
      }
      trades.push({
        symbol: m.symbol,
        seq: t,
        price,
        qty: lots,
        maker_order_id: maker.id,
        taker_order_id: taker.id,
        maker_account_id: makerAccount,
        taker_account_id: takerAccount,
        taker_side: takerSide,
        received_at: new Date(at + 1).toISOString(),
        executed_at: new Date(at + 2).toISOString(),
      });
    }
    // Resting orders away from the mid: they keep their holds.
    for (let k = 0; k < 10; k++) {
      const side = k % 2 === 0 ? 'buy' : 'sell';
      order(m, traders[k], side, m.midTicks + (side === 'buy' ? -500 - k : 500 + k), 1 + k, t0 + 60_000 + k);
    }
  }
  // One cancelled order: held, then released in full.
  const m0 = MARKETS[0];
  const cancelled = order(m0, traders[5], 'buy', m0.midTicks - 900, 3, t0 + 90_000);
  entry(
    `${m0.symbol}:31:${cancelled.id}:release`,
    traders[5],
    cancelled.holdAsset,
    cancelled.hold,
    -cancelled.hold,
    'release',
    `${m0.symbol}:31`,
  );
  Object.assign(
    orders.find((r) => r.order_id === cancelled.id)!,
    { status: 'cancelled', hold_remaining: 0n, last_seq: 31 },
  );

  await ds.query(
    `INSERT INTO ledger (entry_key, account_id, asset, available_delta, held_delta, kind, ref)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[], $7::text[])`,
    [0, 1, 2, 3, 4, 5, 6].map((i) => ledger.map((l) => String(l[i]))),
  );
  await ds.query(
    `INSERT INTO balances (account_id, asset, available, held)
     SELECT account_id, asset, sum(available_delta), sum(held_delta) FROM ledger GROUP BY account_id, asset`,
  );
  await ds.query(
    `INSERT INTO orders (order_id, account_id, symbol, client_order_id, side, order_type, tif, price, qty, filled_qty,
                         filled_notional, status, received_at, hold_asset, hold_remaining, last_seq)
     SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(order_id text, account_id text, symbol text, client_order_id text,
       side text, order_type text, tif text, price bigint, qty bigint, filled_qty bigint, filled_notional bigint,
       status text, received_at timestamptz, hold_asset text, hold_remaining bigint, last_seq bigint)`,
    [JSON.stringify(orders, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))],
  );
  await ds.query(
    `INSERT INTO trades (symbol, seq, price, qty, maker_order_id, taker_order_id, maker_account_id, taker_account_id,
                         taker_side, received_at, executed_at)
     SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(symbol text, seq bigint, price bigint, qty bigint, maker_order_id text,
       taker_order_id text, maker_account_id text, taker_account_id text, taker_side text, received_at timestamptz,
       executed_at timestamptz)`,
    [JSON.stringify(trades)],
  );
  await ds.query(
    `INSERT INTO order_events (symbol, seq, order_id, account_id, type, payload, emitted_at)
     SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(symbol text, seq bigint, order_id text, account_id text, type text,
       payload jsonb, emitted_at timestamptz)`,
    [JSON.stringify(events)],
  );
  await ds.query(
    `INSERT INTO consumer_offsets (group_id, topic, partition, next_offset)
     SELECT 'order-router', 'orders.commands.v1', p, 1000 + p * 7 FROM generate_series(0, 11) p`,
  );
  await ds.query(
    `INSERT INTO router_outbox (input_partition, input_offset, topic, message_key, payload)
     VALUES (3, 1021, 'orders.sequenced.v1', 'BTC-USDT', '{"sample":true}')`,
  );
  await ds.query(
    `INSERT INTO engine_snapshots (input_partition, input_offset, state, state_hash)
     VALUES (5, 4242, '{"v":1,"engines":[],"sources":[[3,1020]]}', 123456789)`,
  );
  const [{ balances }] = (await ds.query(`SELECT count(*)::int AS balances FROM balances`)) as {
    balances: number;
  }[];
  return {
    accounts: traders.length + 1,
    orders: orders.length,
    trades: trades.length,
    ledger: ledger.length,
    balances,
  };
}

/** Row count and an order-independent md5 of every row (as text) of `table`, over `columns`. */
export async function tableChecksum(
  ds: DataSource,
  table: string,
  columns?: string[],
): Promise<{ rows: number; md5: string }> {
  const cols = columns?.map((c) => `"${c}"`).join(', ') ?? '*';
  const [r] = (await ds.query(
    `SELECT count(*)::int AS rows, md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) AS md5
     FROM (SELECT ${cols} FROM "${table}") t`,
  )) as { rows: number; md5: string }[];
  return r;
}

/** The columns of every table of the public schema (ordered), e.g. to checksum the same ones later. */
export async function tableColumns(ds: DataSource): Promise<Record<string, string[]>> {
  const rows = (await ds.query(
    `SELECT c.table_name, c.column_name FROM information_schema.columns c
     JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
     WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
     ORDER BY c.table_name, c.ordinal_position`,
  )) as { table_name: string; column_name: string }[];
  const out: Record<string, string[]> = {};
  for (const r of rows) (out[r.table_name] ??= []).push(r.column_name);
  return out;
}
