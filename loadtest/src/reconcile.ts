// Reconciliation after a load run (fails the run when anything is off):
//  (a) every order the gateway acknowledged is in the database exactly once, final or resting;
//  (b) trades in the database equal the trade events in executions.v1 over the run's offsets;
//  (c) per symbol, base bought == base sold == Σ trade qty (ledger 'trade' entries);
//  (d) the platform's balance invariants (dist/services/order-router/src/reconcile.main.js).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Kafka, logLevel, type ISocketFactory } from 'kafkajs';
import type { Pool } from 'pg';
import { FINAL_ORDER_STATUSES, RESTING_ORDER_STATUSES } from '@trading/contracts';
import { ASSET_DECIMALS, MARKETS } from './scenario';
import { ROOT, kafkaBrokers } from './platform';
import { readTopicRange } from './kafka-range';

export const EXECUTIONS_TOPIC = 'executions.v1';
const KNOWN: readonly string[] = [...RESTING_ORDER_STATUSES, ...FINAL_ORDER_STATUSES];

export type Offsets = Record<number, string>;

let socketFactory: ISocketFactory | undefined;

/** How kafkaClient() connects (the Swarm target's relays); kafkajs's own sockets by default. */
export function useKafkaSocketFactory(factory: ISocketFactory | undefined): void {
  socketFactory = factory;
}

export function kafkaClient(clientId: string): Kafka {
  return new Kafka({ clientId, brokers: kafkaBrokers(), logLevel: logLevel.NOTHING, socketFactory });
}

/** High watermarks of executions.v1 per partition. */
export async function executionOffsets(kafka: Kafka): Promise<Offsets> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const out: Offsets = {};
    for (const p of await admin.fetchTopicOffsets(EXECUTIONS_TOPIC)) out[p.partition] = p.high;
    return out;
  } finally {
    await admin.disconnect();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until no order of the run is pending; returns the count still pending (0 when drained). */
export async function drain(
  pool: Pool,
  prefix: string,
  timeoutMs: number,
  log: (m: string) => void,
): Promise<{ pending: number; waitedMs: number }> {
  const started = Date.now();
  let last = -1;
  for (;;) {
    const { rows } = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM orders WHERE account_id LIKE $1 AND status = 'pending'`,
      [`${prefix}%`],
    );
    const pending = rows[0].n;
    if (pending === 0) return { pending, waitedMs: Date.now() - started };
    if (Date.now() - started > timeoutMs) return { pending, waitedMs: Date.now() - started };
    if (pending !== last) log(`draining: ${pending} orders pending`);
    last = pending;
    await sleep(500);
  }
}

export interface AckCheck {
  ok: boolean;
  acknowledged: number;
  found: number;
  missing: number;
  pending: number;
  byStatus: Record<string, number>;
  rejectReasons: Record<string, number>;
  /** Orders of the run's accounts in the database that no 202 acknowledged (e.g. a timed-out request whose command got through). */
  unacknowledged: number;
}

/** (a) Every acknowledged order id exists once with a final or resting status. */
export async function checkAcknowledged(pool: Pool, prefix: string, acked: Set<string>): Promise<AckCheck> {
  const { rows } = await pool.query<{ order_id: string; status: string; reason: string | null }>(
    `SELECT order_id, status, reason FROM orders WHERE account_id LIKE $1`,
    [`${prefix}%`],
  );
  const seen = new Map<string, number>();
  const byStatus: Record<string, number> = {};
  const rejectReasons: Record<string, number> = {};
  let pending = 0;
  let unacknowledged = 0;
  let found = 0;
  for (const r of rows) {
    seen.set(r.order_id, (seen.get(r.order_id) ?? 0) + 1);
    byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
    if (r.status === 'rejected') rejectReasons[r.reason ?? '?'] = (rejectReasons[r.reason ?? '?'] ?? 0) + 1;
    if (!acked.has(r.order_id)) unacknowledged++;
    else {
      found++;
      if (!KNOWN.includes(r.status)) pending++;
    }
  }
  const duplicates = [...seen.values()].filter((n) => n > 1).length;
  const missing = acked.size - found;
  return {
    ok: missing === 0 && pending === 0 && duplicates === 0,
    acknowledged: acked.size,
    found,
    missing,
    pending,
    byStatus,
    rejectReasons,
    unacknowledged,
  };
}

interface TradeEvent {
  price: number;
  qty: number;
  makerOrderId: string;
  takerOrderId: string;
  makerAccountId: string;
  takerAccountId: string;
  takerSide: 'buy' | 'sell';
  /** The gateway's receipt of the command that made the trade (its executions.v1 record's). */
  receivedAt: number;
}

export interface TradesCheck {
  ok: boolean;
  symbols: Record<
    string,
    {
      kafkaTrades: number;
      dbTrades: number;
      missingInDb: number;
      extraInDb: number;
      mismatched: number;
      seqFrom: number | null;
      seqTo: number | null;
    }
  >;
  kafkaRecords: number;
}

/** Reads executions.v1 between two offset maps (fresh group, read_committed). */
export async function readExecutions(
  kafka: Kafka,
  from: Offsets,
  to: Offsets,
  symbols: string[],
): Promise<{
  trades: Map<string, Map<number, TradeEvent>>;
  seqRange: Map<string, [number, number]>;
  records: number;
}> {
  const trades = new Map<string, Map<number, TradeEvent>>(symbols.map((s) => [s, new Map()]));
  const seqRange = new Map<string, [number, number]>();
  let records = 0;
  for (const list of (await readTopicRange(kafka, EXECUTIONS_TOPIC, from, to, 3000)).values()) {
    for (const m of list) {
      records++;
      const e = JSON.parse(m.value.toString()) as {
        symbol: string;
        receivedAt: number;
        events: ({ type: string; seq: number } & Partial<TradeEvent>)[];
      };
      if (!trades.has(e.symbol)) continue;
      for (const ev of e.events) {
        const r = seqRange.get(e.symbol);
        seqRange.set(e.symbol, r ? [Math.min(r[0], ev.seq), Math.max(r[1], ev.seq)] : [ev.seq, ev.seq]);
        if (ev.type === 'trade')
          trades.get(e.symbol)!.set(ev.seq, { ...(ev as unknown as TradeEvent), receivedAt: e.receivedAt });
      }
    }
  }
  return { trades, seqRange, records };
}

/** (b) DB trades over each symbol's seq range == Kafka trade events. */
export async function checkTrades(
  pool: Pool,
  exec: Awaited<ReturnType<typeof readExecutions>>,
): Promise<TradesCheck> {
  const out: TradesCheck = { ok: true, symbols: {}, kafkaRecords: exec.records };
  for (const [symbol, kTrades] of exec.trades) {
    const range = exec.seqRange.get(symbol);
    const stat = {
      kafkaTrades: kTrades.size,
      dbTrades: 0,
      missingInDb: 0,
      extraInDb: 0,
      mismatched: 0,
      seqFrom: range?.[0] ?? null,
      seqTo: range?.[1] ?? null,
    };
    out.symbols[symbol] = stat;
    if (!range) continue;
    const { rows } = await pool.query<{
      seq: string;
      price: string;
      qty: string;
      maker_order_id: string;
      taker_order_id: string;
    }>(
      `SELECT seq, price, qty, maker_order_id, taker_order_id FROM trades WHERE symbol = $1 AND seq BETWEEN $2 AND $3`,
      [symbol, range[0], range[1]],
    );
    stat.dbTrades = rows.length;
    const seen = new Set<number>();
    for (const r of rows) {
      const seq = Number(r.seq);
      seen.add(seq);
      const k = kTrades.get(seq);
      if (!k) stat.extraInDb++;
      else if (
        Number(r.price) !== k.price ||
        Number(r.qty) !== k.qty ||
        r.maker_order_id !== k.makerOrderId ||
        r.taker_order_id !== k.takerOrderId
      )
        stat.mismatched++;
    }
    for (const seq of kTrades.keys()) if (!seen.has(seq)) stat.missingInDb++;
    if (stat.missingInDb || stat.extraInDb || stat.mismatched) out.ok = false;
  }
  return out;
}

export interface BalanceCheck {
  ok: boolean;
  symbols: Record<
    string,
    {
      trades: number;
      qtyLots: number;
      boughtBase: string;
      soldBase: string;
      expectedBase: string;
      ledgerEntries: number;
    }
  >;
}

/** (c) Per symbol: base credited to buyers == base taken from sellers == Σ qty × base units per lot. */
export async function checkBoughtSold(
  pool: Pool,
  exec: Awaited<ReturnType<typeof readExecutions>>,
): Promise<BalanceCheck> {
  const out: BalanceCheck = { ok: true, symbols: {} };
  const { rows: mk } = await pool.query<{ symbol: string; lot_size: string; base_asset: string }>(
    `SELECT symbol, lot_size::text, base_asset FROM markets`,
  );
  for (const [symbol, kTrades] of exec.trades) {
    const market = mk.find((m) => m.symbol === symbol);
    const baseAsset = market?.base_asset ?? MARKETS[symbol].baseAsset;
    const decimals = ASSET_DECIMALS[baseAsset];
    const [i, f = ''] = (market?.lot_size ?? '0.0001').replace(/0+$/, '').split('.');
    const unitsPerLot = BigInt(i + f.padEnd(decimals, '0'));
    let qtyLots = 0n;
    const keys: string[] = [];
    for (const [seq, t] of kTrades) {
      qtyLots += BigInt(t.qty);
      keys.push(
        `${symbol}:${seq}:${t.makerAccountId}:maker:base`,
        `${symbol}:${seq}:${t.takerAccountId}:taker:base`,
      );
    }
    let bought = 0n;
    let sold = 0n;
    let entries = 0;
    for (let k = 0; k < keys.length; k += 5000) {
      const { rows } = await pool.query<{ d: string }>(
        `SELECT (available_delta + held_delta)::text AS d FROM ledger WHERE entry_key = ANY($1) AND kind = 'trade'`,
        [keys.slice(k, k + 5000)],
      );
      for (const r of rows) {
        entries++;
        const d = BigInt(r.d);
        if (d > 0n) bought += d;
        else sold -= d;
      }
    }
    const expected = qtyLots * unitsPerLot;
    out.symbols[symbol] = {
      trades: kTrades.size,
      qtyLots: Number(qtyLots),
      boughtBase: bought.toString(),
      soldBase: sold.toString(),
      expectedBase: expected.toString(),
      ledgerEntries: entries,
    };
    if (bought !== sold || bought !== expected || entries !== keys.length) out.ok = false;
  }
  return out;
}

/** (d) The platform's own balance invariants. */
export function platformReconcile(): { ok: boolean; exitCode: number | null; output: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'dist/services/order-router/src/reconcile.main.js')], {
    env: process.env,
    encoding: 'utf8',
    timeout: 120_000,
  });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  return { ok: r.status === 0, exitCode: r.status, output: output.split('\n').slice(-20).join('\n') };
}
