import type { Kafka } from 'kafkajs';
import type { DataSource } from 'typeorm';
import {
  FINAL_ORDER_STATUSES,
  fromSteps,
  RESTING_ORDER_STATUSES,
  toSteps,
  toMarketSpec,
  TOPICS,
  type MarketSpec,
} from '@trading/contracts';
import { MarketsRepository, ReconciliationRepository } from '@trading/db';
import { partitionFor } from '@trading/kafka';
import { MatchingEngine, type EngineEvent } from '@trading/matching-engine';
import { symbolConfig } from '../../services/matching-worker/src/partition-book';
import { readAppliedCommands, type AppliedCommand } from './engine-replay';
import { ExchangeClient } from '../testing/exchange-client';
import type { AckedOrder } from './load';

// The reconciliation after a chaos run, on the pipeline once drained:
//  (a) every acknowledged order exists once, with the order id it was acknowledged with, in a
//      final or resting state that agrees with the replay of (b);
//  (b) the trades in the database equal a replay of the sequenced commands through the engine
//      alone: nothing lost, nothing duplicated;
//  (c) money: balances = ledger replay, every hold explained, conservation per asset;
//  (d) market data: 1m candles agree with the trades, the depth snapshot equals the replayed
//      engine's book, the recent-trades snapshot ends with the last trade.

export interface Check {
  name: string;
  ok: boolean;
  detail: Record<string, unknown>;
}

export interface Reconciliation {
  ok: boolean;
  checks: Check[];
  trades: number;
  ledgerRows: number;
  /** Acknowledged orders missing + replayed trades missing from the database. */
  lost: number;
  /** Orders or trades present more than once or not in the replay. */
  duplicated: number;
}

const RESTING = new Set<string>(RESTING_ORDER_STATUSES);
const FINAL = new Set<string>(FINAL_ORDER_STATUSES);

/** The symbols' partitions of orders.sequenced.v1 and their current end offsets. */
export async function sequencedEnds(kafka: Kafka, partitions: number[]): Promise<Map<number, bigint>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(TOPICS.ordersSequenced.name);
    return new Map(partitions.map((p) => [p, BigInt(offsets.find((o) => o.partition === p)?.high ?? '0')]));
  } finally {
    await admin.disconnect();
  }
}

/** Sequenced commands of `symbols` between two offset maps, as the workers apply them. */
async function readSequenced(
  kafka: Kafka,
  symbols: Set<string>,
  from: Map<number, bigint>,
  to: Map<number, bigint>,
): Promise<AppliedCommand[]> {
  const offsets = (m: Map<number, bigint>) => Object.fromEntries([...m].map(([p, o]) => [p, String(o)]));
  return (await readAppliedCommands(kafka, symbols, offsets(from), offsets(to))).commands;
}

interface ReplayedOrder {
  filled: number;
  resting: boolean;
}

interface Replay {
  spec: MarketSpec;
  engine: MatchingEngine;
  trades: string[];
  tradeQty: bigint;
  orders: Map<string, ReplayedOrder>;
  commands: number;
}

function replay(spec: MarketSpec, commands: AppliedCommand[]): Replay {
  const engine = new MatchingEngine(symbolConfig(spec));
  const r: Replay = { spec, engine, trades: [], tradeQty: 0n, orders: new Map(), commands: commands.length };
  const out: EngineEvent[] = [];
  const order = (id: string): ReplayedOrder => {
    let o = r.orders.get(id);
    if (!o) r.orders.set(id, (o = { filled: 0, resting: false }));
    return o;
  };
  for (const { offset, value: c } of commands) {
    if (c.command.type === 'new') order(c.command.orderId);
    out.length = 0;
    engine.process({ ...c.command, inputOffset: offset }, out);
    for (const e of out)
      if (e.type === 'trade') {
        r.trades.push(`${e.seq}:${e.price}:${e.qty}:${e.makerOrderId}:${e.takerOrderId}`);
        r.tradeQty += BigInt(e.qty);
        order(e.makerOrderId).filled += e.qty;
        order(e.takerOrderId).filled += e.qty;
      }
  }
  for (const [id, o] of r.orders) o.resting = engine.getOrder(id) !== null;
  return r;
}

export interface ReconcileInput {
  db: DataSource;
  kafka: Kafka;
  partitions: number;
  symbols: string[];
  accountIds: string[];
  acked: Map<string, AckedOrder>;
  /** End offsets of the symbols' orders.sequenced.v1 partitions before the run. */
  sequencedFrom: Map<number, bigint>;
  gatewayUrl: string;
  runStartedAt: number;
  log: (m: string) => void;
}

/** Waits until the pipeline is idle: no order of the run pending, trade count steady. */
export async function drain(
  db: DataSource,
  symbols: string[],
  accountIds: string[],
  timeoutMs: number,
): Promise<{ pending: number; waitedMs: number }> {
  const started = Date.now();
  let last = -1;
  let pending = -1;
  for (let stable = 0; stable < 4 && Date.now() - started < timeoutMs;) {
    const [row] = (await db.query(
      `SELECT (SELECT count(*) FROM orders WHERE account_id = ANY($2) AND status = 'pending')::int AS pending,
              (SELECT count(*) FROM trades WHERE symbol = ANY($1))::int AS trades`,
      [symbols, accountIds],
    )) as { pending: number; trades: number }[];
    pending = row.pending;
    stable = pending === 0 && row.trades === last ? stable + 1 : 0;
    last = row.trades;
    await new Promise((r) => setTimeout(r, 500));
  }
  return { pending, waitedMs: Date.now() - started };
}

/** `drain` (up to 180 s), then `reconcile`: what a run does once its load has stopped. */
export async function drainAndReconcile(
  input: ReconcileInput,
): Promise<{ drained: { pending: number; waitedMs: number }; reconciliation: Reconciliation }> {
  input.log('drain: waiting for the pipeline to settle');
  const drained = await drain(input.db, input.symbols, input.accountIds, 180_000);
  input.log(`reconcile: ${input.acked.size} acknowledged orders`);
  return { drained, reconciliation: await reconcile(input) };
}

export async function reconcile(input: ReconcileInput): Promise<Reconciliation> {
  const { db, symbols } = input;
  const checks: Check[] = [];
  let lost = 0;
  let duplicated = 0;
  let trades = 0;

  const rows = (await new MarketsRepository(input.db).findRows()).filter((r) => symbols.includes(r.symbol));
  const specs = new Map(rows.map((r) => [r.symbol, toMarketSpec(r)]));
  const partitions = [...new Set(symbols.map((s) => partitionFor(s, input.partitions)))];
  const to = await sequencedEnds(input.kafka, partitions);
  const commands = await readSequenced(input.kafka, new Set(symbols), input.sequencedFrom, to);
  const replays = new Map<string, Replay>();
  for (const s of symbols)
    replays.set(
      s,
      replay(
        specs.get(s)!,
        commands.filter((c) => c.value.symbol === s),
      ),
    );

  // (b) trades == engine-only replay, per symbol.
  for (const [symbol, r] of replays) {
    const actual = (
      (await db.query(
        `SELECT seq, price, qty, maker_order_id, taker_order_id FROM trades WHERE symbol = $1 ORDER BY seq`,
        [symbol],
      )) as { seq: string; price: string; qty: string; maker_order_id: string; taker_order_id: string }[]
    ).map((t) => `${t.seq}:${t.price}:${t.qty}:${t.maker_order_id}:${t.taker_order_id}`);
    const expected = new Set(r.trades);
    const got = new Set(actual);
    const missing = r.trades.filter((t) => !got.has(t)).length;
    const extra = actual.filter((t) => !expected.has(t)).length + (actual.length - got.size);
    lost += missing;
    duplicated += extra;
    trades += actual.length;
    checks.push({
      name: `(b) trades = engine replay ${symbol}`,
      ok: missing === 0 && extra === 0 && r.trades.length > 0,
      detail: {
        replayedCommands: r.commands,
        expected: r.trades.length,
        actual: actual.length,
        missing,
        extra,
      },
    });
  }

  // (a) acknowledged orders: once, with their acknowledged id, state agreeing with the replay.
  const orders = (await db.query(
    `SELECT order_id, account_id, symbol, client_order_id, status, qty::text, filled_qty::text FROM orders WHERE account_id = ANY($1)`,
    [input.accountIds],
  )) as {
    order_id: string;
    account_id: string;
    symbol: string;
    client_order_id: string | null;
    status: string;
    qty: string;
    filled_qty: string;
  }[];
  const byCoid = new Map<string, typeof orders>();
  for (const o of orders) {
    const key = `${o.account_id}/${o.client_order_id ?? o.order_id}`;
    byCoid.set(key, [...(byCoid.get(key) ?? []), o]);
  }
  let missing = 0;
  let wrongId = 0;
  let twice = 0;
  let notFinal = 0;
  let disagree = 0;
  const samples: unknown[] = [];
  for (const a of input.acked.values()) {
    const found = byCoid.get(`${a.accountId}/${a.clientOrderId}`) ?? [];
    if (found.length === 0) missing++;
    else if (found.length > 1) twice++;
    const o = found.find((x) => x.order_id === a.orderId);
    if (found.length > 0 && !o) wrongId++;
  }
  const ackedIds = new Set([...input.acked.values()].map((a) => a.orderId));
  for (const o of orders) {
    const r = replays.get(o.symbol)?.orders.get(o.order_id);
    const filled = Number(o.filled_qty);
    let ok: boolean;
    if (!RESTING.has(o.status) && !FINAL.has(o.status)) {
      notFinal++;
      ok = true;
    } else if (!r)
      ok = o.status === 'rejected' && filled === 0; // refused by the router, never matched
    else
      ok =
        filled === r.filled &&
        (r.resting ? RESTING.has(o.status) : FINAL.has(o.status)) &&
        (o.status === 'filled') === (filled === Number(o.qty));
    if (!ok) {
      disagree++;
      if (samples.length < 5) samples.push({ db: o, replay: r ?? null });
    }
  }
  const unacknowledged = orders.filter((o) => !ackedIds.has(o.order_id)).length;
  lost += missing + wrongId;
  duplicated += twice;
  checks.push({
    name: '(a) acknowledged orders exist once, final or resting, as replayed',
    ok: missing === 0 && wrongId === 0 && twice === 0 && notFinal === 0 && disagree === 0,
    detail: {
      acknowledged: input.acked.size,
      inDatabase: orders.length,
      missing,
      wrongOrderId: wrongId,
      duplicated: twice,
      stillPending: notFinal,
      disagreeWithReplay: disagree,
      unacknowledgedInDatabase: unacknowledged,
      ...(samples.length ? { samples } : {}),
    },
  });

  // (c) money.
  const issues = await new ReconciliationRepository(db).all();
  const [{ ledger, runLedger }] = (await db.query(
    `SELECT (SELECT count(*) FROM ledger)::int AS ledger, (SELECT count(*) FROM ledger WHERE account_id = ANY($1))::int AS "runLedger"`,
    [input.accountIds],
  )) as { ledger: number; runLedger: number }[];
  checks.push({
    name: '(c) balances = ledger replay, holds explained, conservation',
    ok: issues.length === 0,
    detail: { ledgerRows: ledger, runLedgerRows: runLedger, discrepancies: issues.slice(0, 10) },
  });

  // (d) market data, as the public API serves it (market-data may still be catching up: retried).
  const api = new ExchangeClient(input.gatewayUrl);
  for (const [symbol, r] of replays) {
    let check: Check | null = null;
    for (let attempt = 0; attempt < 30; attempt++) {
      check = await marketDataCheck(api, input, symbol, r);
      if (check.ok) break;
      await new Promise((res) => setTimeout(res, 1000));
    }
    checks.push(check!);
  }

  return {
    ok: checks.every((c) => c.ok) && lost === 0 && duplicated === 0,
    checks,
    trades,
    ledgerRows: ledger,
    lost,
    duplicated,
  };
}

async function marketDataCheck(
  api: ExchangeClient,
  input: ReconcileInput,
  symbol: string,
  r: Replay,
): Promise<Check> {
  const { spec, engine } = r;
  // Candles (1m) over the run, against the trades table bucket by bucket and the replay in total.
  const from = Math.floor(input.runStartedAt / 60_000) * 60_000 - 60_000;
  const candles = await api.public<{ data: { time: string; volume: string; trades: number }[] }>(
    `/v1/markets/${symbol}/candles?interval=1m&from=${from}&to=${Date.now() + 60_000}&limit=1000`,
  );
  const buckets = (await input.db.query(
    `SELECT date_bin(INTERVAL '1 minute', executed_at, TIMESTAMPTZ '2000-01-01') AS bucket, sum(qty)::text AS volume, count(*)::int AS trades
     FROM trades WHERE symbol = $1 GROUP BY 1 ORDER BY 1`,
    [symbol],
  )) as { bucket: Date; volume: string; trades: number }[];
  const fromDb = buckets.map(
    (b) => `${b.bucket.toISOString()}:${fromSteps(BigInt(b.volume), spec.lotSize)}:${b.trades}`,
  );
  const fromApi = (candles.body.data ?? []).map((c) => `${c.time}:${c.volume}:${c.trades}`);
  const candleTrades = (candles.body.data ?? []).reduce((n, c) => n + c.trades, 0);
  const candleVolume = (candles.body.data ?? []).reduce((n, c) => {
    const lots = toSteps(c.volume, spec.lotSize);
    return n + (lots.ok ? BigInt(lots.steps) : -1n);
  }, 0n);
  const candlesOk =
    candles.status === 200 &&
    JSON.stringify(fromApi) === JSON.stringify(fromDb) &&
    candleTrades === r.trades.length &&
    candleVolume === r.tradeQty;

  // Depth: the snapshot market-data keeps in Redis = the replayed engine's book.
  const depth = await api.public<{
    engineSeq: number;
    bids: [string, string, number][];
    asks: [string, string, number][];
  }>(`/v1/markets/${symbol}/depth?levels=20`);
  const level = (l: { price: number; qty: number; orders: number }) => [
    fromSteps(l.price, spec.tickSize),
    fromSteps(l.qty, spec.lotSize),
    l.orders,
  ];
  const book = engine.depth(20);
  const expected = { engineSeq: engine.seq, bids: book.bids.map(level), asks: book.asks.map(level) };
  const actual = { engineSeq: depth.body.engineSeq, bids: depth.body.bids, asks: depth.body.asks };
  const depthOk = depth.status === 200 && JSON.stringify(actual) === JSON.stringify(expected);

  // Recent trades snapshot ends with the replay's last trade.
  const recent = await api.public<{ data: { seq: number }[] }>(`/v1/markets/${symbol}/trades?limit=1`);
  const lastSeq = r.trades.length ? Number(r.trades[r.trades.length - 1].split(':')[0]) : null;
  const recentOk = recent.status === 200 && (recent.body.data?.[0]?.seq ?? null) === lastSeq;

  return {
    name: `(d) candles, depth and recent trades agree ${symbol}`,
    ok: candlesOk && depthOk && recentOk,
    detail: {
      candles: candlesOk
        ? { buckets: fromApi.length, trades: candleTrades }
        : {
            status: candles.status,
            api: fromApi,
            db: fromDb,
            replayTrades: r.trades.length,
            replayQty: String(r.tradeQty),
          },
      depth: depthOk
        ? { engineSeq: expected.engineSeq, bids: expected.bids.length, asks: expected.asks.length }
        : { expected, actual },
      recentTrades: recentOk
        ? { lastSeq }
        : { expected: lastSeq, actual: recent.body.data?.[0]?.seq ?? null },
    },
  };
}
