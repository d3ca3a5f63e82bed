// PostgreSQL CPU of the order-router's settlement writes, old against new, on equal footing:
//   node -r @swc-node/register libs/db/bench/bench-settlement-writes.ts [--baseline-rev REV] [--batches N] [--orders N] [--rounds N]
// Two scratch databases on the direct port: "baseline" (the migrations and the repository code
// of REV, default the commit before the third pass) and "current" (this checkout). Each gets the
// same synthetic router traffic (as the router writes it: one statement per batch for current; a commands batch: orders + holds + outbox + offset; an updates
// batch: accepted + trade events, order updates, trade legs + fees + releases + offset; each in
// one transaction) over one connection; the CPU of that connection's server process
// (/proc/<pid>/stat, needs to run on the database host) is the measure, alternating rounds.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DataSource, EntityManager } from 'typeorm';
import { databaseSchema, loadConfig } from '@trading/config';
import { ConsumerOffsetsRepository } from '../src/repositories/consumer-offsets.repository';
import * as currentBalances from '../src/repositories/balances.repository';
import * as currentOrders from '../src/repositories/orders.repository';
import * as currentOutbox from '../src/repositories/router-outbox.repository';
import { RouterBatchRepository } from '../src/repositories/router-batch.repository';
import { MIGRATIONS } from '../src/schema';
import { createScratchDatabase, type ScratchDatabase } from '../src/testing/scratch-database';

const ROOT = join(__dirname, '../../..');
const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const BASELINE_REV = arg('baseline-rev', '9b53e52');
const BATCHES = Number(arg('batches', '150'));
const ORDERS = Number(arg('orders', '20'));
const ROUNDS = Number(arg('rounds', '3'));
const ACCOUNTS = 200;

type Repos = { orders: typeof currentOrders; balances: typeof currentBalances; outbox: typeof currentOutbox };

/** The repositories as they were at `rev` (they import only typeorm types). */
async function baselineRepos(rev: string): Promise<{ repos: Repos; migrations: number }> {
  const dir = join(ROOT, 'tmp', `bench-baseline-${rev}`);
  mkdirSync(dir, { recursive: true });
  for (const f of ['orders', 'balances', 'router-outbox']) {
    const src = execFileSync('git', ['show', `${rev}:libs/db/src/repositories/${f}.repository.ts`], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    writeFileSync(join(dir, `${f}.repository.ts`), src);
  }
  const names = execFileSync('git', ['ls-tree', '--name-only', rev, 'libs/db/src/migrations/'], {
    cwd: ROOT,
    encoding: 'utf8',
  })
    .split('\n')
    .filter((n) => n.endsWith('.migration.ts'));
  return {
    repos: {
      orders: (await import(join(dir, 'orders.repository.ts'))) as typeof currentOrders,
      balances: (await import(join(dir, 'balances.repository.ts'))) as typeof currentBalances,
      outbox: (await import(join(dir, 'router-outbox.repository.ts'))) as typeof currentOutbox,
    },
    migrations: names.length,
  };
}

function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, USER_HZ = 100
}

interface Variant {
  name: string;
  scratch: ScratchDatabase;
  ds: DataSource;
  repos: Repos;
  pid: number;
  nextOrder: number;
  offset: number;
  cpu: number;
  orders: number;
  /** The batch as one statement (RouterBatchRepository), as the router writes it now. */
  single: boolean;
}

async function setup(name: string, repos: Repos, migrations: number, single = false): Promise<Variant> {
  const config = loadConfig(databaseSchema);
  const scratch = await createScratchDatabase(config, `bench_${name}`);
  const ds = scratch.dataSource(`bench-${name}`, MIGRATIONS.slice(0, migrations));
  await ds.initialize();
  await ds.runMigrations({ transaction: 'each' });
  await ds.query(`INSERT INTO assets (code, decimals) VALUES ('USDT', 6), ('BTC', 8)`);
  const b = new repos.balances.BalancesRepository(ds);
  const deposits: currentBalances.LedgerRow[] = [];
  for (let a = 0; a < ACCOUNTS; a++)
    for (const asset of ['USDT', 'BTC'])
      deposits.push({
        key: `deposit:${a}:${asset}`,
        accountId: `acct-${a}`,
        asset,
        availableDelta: 10n ** 15n,
        heldDelta: 0n,
        kind: 'deposit',
        ref: 'bench',
      });
  await b.post(deposits);
  return { name, scratch, ds, repos, pid: 0, nextOrder: 0, offset: 0, cpu: 0, orders: 0, single };
}

/** One commands batch and one updates batch of ORDERS orders, each fully filled in one trade. */
async function batchPair(v: Variant, tx: EntityManager): Promise<void> {
  const orders = new v.repos.orders.OrdersRepository(v.ds);
  const balances = new v.repos.balances.BalancesRepository(v.ds);
  const offsets = new ConsumerOffsetsRepository(v.ds);
  const outbox = new v.repos.outbox.RouterOutboxRepository(v.ds);
  const rows: currentOrders.NewOrderRow[] = [];
  const holds: currentBalances.LedgerRow[] = [];
  const routed: currentOutbox.OutboxRow[] = [];
  const first = v.nextOrder;
  for (let i = 0; i < ORDERS; i++) {
    const n = v.nextOrder++;
    const buy = n % 2 === 0;
    const account = `acct-${n % ACCOUNTS}`;
    const orderId = `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
    const hold = buy ? 15_030_000n : 50_000n;
    rows.push({
      orderId,
      accountId: account,
      symbol: 'BTC-USDT',
      clientOrderId: `c-${n}`,
      side: buy ? 'buy' : 'sell',
      orderType: 'limit',
      tif: 'GTC',
      postOnly: false,
      price: 3_000_000,
      stopPrice: null,
      displayQty: null,
      qty: 5,
      status: 'pending',
      reason: null,
      receivedAt: Date.now(),
      protectionPrice: null,
      quoteBudget: null,
      holdAsset: buy ? 'USDT' : 'BTC',
      holdRemaining: hold,
      makerFeeBps: 10,
      takerFeeBps: 20,
    });
    holds.push({
      key: `cmd:0:${n}:${orderId}:hold`,
      accountId: account,
      asset: buy ? 'USDT' : 'BTC',
      availableDelta: -hold,
      heldDelta: hold,
      kind: 'hold',
      ref: `cmd:0:${n}`,
    });
    routed.push({
      partition: 0,
      offset: n,
      topic: 'orders.sequenced.v1',
      key: 'BTC-USDT',
      payload: JSON.stringify({ symbol: 'BTC-USDT', orderId, n, pad: 'x'.repeat(300) }),
    });
  }
  const single = v.single ? new RouterBatchRepository(v.ds) : null;
  if (single)
    await single.commitCommands(
      {
        orders: rows,
        states: [],
        ledger: holds,
        outbox: { partition: 0, pruneBefore: first, rows: routed },
        offset: { groupId: 'bench', topic: 'orders.commands.v1', partition: 0, nextOffset: v.nextOrder },
      },
      tx,
    );
  else
    await tx.transaction(async (t) => {
      await orders.insertNew(rows, t);
      await balances.post(holds, t);
      await outbox.prune(0, first, t);
      await outbox.add(routed, t);
      await offsets.save('bench', 'orders.commands.v1', 0, v.nextOrder, t);
    });

  const events: currentOrders.OrderEventRow[] = [];
  const states: currentOrders.OrderStateRow[] = [];
  const ledger: currentBalances.LedgerRow[] = [];
  for (const r of rows) {
    const seq = ++v.offset * 2;
    const buy = r.side === 'buy';
    events.push(
      {
        symbol: r.symbol,
        seq: seq - 1,
        orderId: r.orderId,
        accountId: r.accountId,
        type: 'accepted',
        payload: { type: 'accepted', seq: seq - 1, orderId: r.orderId },
        emittedAt: Date.now(),
      },
      {
        symbol: r.symbol,
        seq,
        orderId: r.orderId,
        accountId: r.accountId,
        type: 'trade',
        payload: { type: 'trade', seq, price: 2_990_000, qty: 5, makerOrderId: r.orderId, takerOrderId: 'x' },
        emittedAt: Date.now(),
      },
    );
    states.push({
      ...r,
      orderType: 'limit',
      filledQty: 5,
      filledNotional: 14_950_000n,
      status: 'filled',
      lastSeq: seq,
      holdRemaining: 0n,
    });
    const ref = `BTC-USDT:${seq}`;
    const key = (leg: string) => `${ref}:${r.accountId}:maker:${leg}`;
    const [give, get] = buy ? ['USDT', 'BTC'] : ['BTC', 'USDT'];
    const spent = buy ? 14_965_000n : 50_000n;
    ledger.push(
      {
        key: key('give'),
        accountId: r.accountId,
        asset: give,
        availableDelta: 0n,
        heldDelta: -spent,
        kind: 'trade',
        ref,
      },
      {
        key: key('get'),
        accountId: r.accountId,
        asset: get,
        availableDelta: buy ? 50_000n : 14_935_000n,
        heldDelta: 0n,
        kind: 'trade',
        ref,
      },
      {
        key: key('fee'),
        accountId: 'fee',
        asset: 'USDT',
        availableDelta: 15_000n,
        heldDelta: 0n,
        kind: 'fee',
        ref,
      },
    );
    if (r.holdRemaining > spent)
      ledger.push({
        key: `${ref}:${r.orderId}:release`,
        accountId: r.accountId,
        asset: give,
        availableDelta: r.holdRemaining - spent,
        heldDelta: -(r.holdRemaining - spent),
        kind: 'release',
        ref,
      });
  }
  if (single)
    await single.commitUpdates(
      {
        events,
        states,
        ledger,
        offset: { groupId: 'bench', topic: 'orders.updates.v1', partition: 0, nextOffset: v.offset },
      },
      tx,
    );
  else
    await tx.transaction(async (t) => {
      await orders.insertEvents(events, t);
      await orders.updateStates(states, t);
      await balances.post(ledger, t);
      await offsets.save('bench', 'orders.updates.v1', 0, v.offset, t);
    });
  v.orders += rows.length;
}

async function round(v: Variant): Promise<void> {
  // One connection: every statement of the round runs in the one server process measured.
  const qr = v.ds.createQueryRunner();
  await qr.connect();
  try {
    const [{ pid }] = (await qr.query(`SELECT pg_backend_pid() AS pid`)) as { pid: number }[];
    const before = cpuMs(pid);
    for (let i = 0; i < BATCHES; i++) await batchPair(v, qr.manager);
    v.cpu += cpuMs(pid) - before;
  } finally {
    await qr.release();
  }
}

async function main(): Promise<void> {
  const base = await baselineRepos(BASELINE_REV);
  const current = { orders: currentOrders, balances: currentBalances, outbox: currentOutbox };
  const variants = [
    await setup('baseline', base.repos, base.migrations),
    await setup('current', current, MIGRATIONS.length, true),
  ];
  // --matrix: also the baseline statements on the current schema (what the schema alone does) and
  // the current repositories' separate statements in a transaction (what the single call adds).
  if (process.argv.includes('--matrix'))
    variants.push(
      await setup('oldsql_newschema', base.repos, MIGRATIONS.length),
      await setup('current_multi', current, MIGRATIONS.length),
    );
  try {
    for (let r = 0; r < ROUNDS; r++)
      for (const v of r % 2 ? [...variants].reverse() : variants) await round(v);
    for (const v of variants)
      console.log(
        `${v.name.padEnd(16)} ${v.orders} orders, server CPU ${v.cpu.toFixed(0)} ms = ${(v.cpu / v.orders).toFixed(3)} ms/order`,
      );
  } finally {
    for (const v of variants) {
      await v.ds.destroy();
      await v.scratch.drop();
    }
  }
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
