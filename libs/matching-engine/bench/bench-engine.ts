// Engine benchmark (spec: /work/shared/bench/ENGINE-WORKLOADS.md). Bench-only code: it may use
// Node globals (process.hrtime, process.argv, global.gc) and imports no Node built-in module.
// Run: node --expose-gc -r @swc-node/register libs/matching-engine/bench/bench-engine.ts [--quick] [--only=name]
import { OrderBook } from 'nodejs-order-book';
import { type EngineCommand, type EngineEvent, MatchingEngine } from '../src/index';
import { BenchBook } from './bench-book';

const MID = 100000;
const OP_LIMIT = 0;
const OP_IOC = 1;
const OP_MARKET = 2;
const OP_CANCEL = 3;
const OP_AMEND = 4;
// Events are consumed after every op, and `out` is cleared every 1024 ops (one batch).
const OUT_BATCH_MASK = 1023;

interface Workload {
  name: string;
  seed: number;
  prefill: number;
  // Cumulative thresholds over 0..99 for limit, ioc, market, cancel, amend.
  mix: [number, number, number, number, number];
  spread: number;
  cross: number;
  // Timed ops the peer runs (it is too slow for the whole stream on some workloads).
  peerTimed: number;
}

interface Stream {
  kind: Uint8Array;
  ids: string[];
  side: Uint8Array;
  price: Float64Array;
  qty: Float64Array;
  cmds: EngineCommand[];
  // Traded lots the reference model expects after op i (prefix sums).
  tradedAfter: Float64Array;
  prefill: number;
  warmup: number;
  total: number;
}

const quick = process.argv.includes('--quick');
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7);
// Development aid: skip the peer (the JSON line then reports peer figures as 0).
const engineOnly = process.argv.includes('--engine-only');
const TIMED = quick ? 100_000 : 1_000_000;
const RUNS = quick ? 3 : 5;

const workloads: Workload[] = [
  {
    name: 'place-rest',
    seed: 1,
    prefill: 0,
    mix: [100, 100, 100, 100, 100],
    spread: 50,
    cross: 0,
    peerTimed: TIMED,
  },
  {
    name: 'cancel-heavy',
    seed: 2,
    prefill: 20_000,
    mix: [55, 62, 65, 100, 100],
    spread: 30,
    cross: 5,
    peerTimed: quick ? 50_000 : 200_000,
  },
  {
    name: 'cross-heavy',
    seed: 3,
    prefill: 0,
    mix: [50, 100, 100, 100, 100],
    spread: 5,
    cross: 3,
    peerTimed: TIMED,
  },
  {
    name: 'move-heavy',
    seed: 4,
    prefill: 1_000,
    mix: [9, 12, 12, 18, 100],
    spread: 20,
    cross: 3,
    peerTimed: TIMED,
  },
];

function xorshift32(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

function generate(w: Workload): Stream {
  const rnd = xorshift32(w.seed);
  const timed = TIMED;
  const warmup = Math.ceil(timed / 9); // 10% of the (warm-up + timed) stream
  const total = w.prefill + warmup + timed;
  const s: Stream = {
    kind: new Uint8Array(total),
    ids: new Array<string>(total),
    side: new Uint8Array(total),
    price: new Float64Array(total),
    qty: new Float64Array(total),
    cmds: new Array<EngineCommand>(total),
    tradedAfter: new Float64Array(total),
    prefill: w.prefill,
    warmup,
    total,
  };
  const book = new BenchBook(MID, 128);
  let next = 0;
  let traded = 0;
  const nearTouch = (buy: boolean): number => {
    const off = 1 + Math.floor(rnd() * w.spread);
    return buy ? MID - off : MID + off;
  };
  for (let i = 0; i < total; i++) {
    const r = i < w.prefill ? 0 : Math.floor(rnd() * 100);
    let kind =
      r < w.mix[0]
        ? OP_LIMIT
        : r < w.mix[1]
          ? OP_IOC
          : r < w.mix[2]
            ? OP_MARKET
            : r < w.mix[3]
              ? OP_CANCEL
              : OP_AMEND;
    // Nothing to cancel or move: place instead (decided here, so both engines see the same).
    if ((kind === OP_CANCEL || kind === OP_AMEND) && book.restingCount() === 0) kind = OP_LIMIT;
    const buy = rnd() < 0.5;
    const qty = 1 + Math.floor(rnd() * 10);
    s.kind[i] = kind;
    s.side[i] = buy ? 0 : 1;
    s.qty[i] = qty;
    const sideName = buy ? 'buy' : 'sell';
    if (kind === OP_LIMIT) {
      const id = `o${next++}`;
      const price = nearTouch(buy);
      s.ids[i] = id;
      s.price[i] = price;
      s.cmds[i] = {
        type: 'new',
        orderId: id,
        accountId: 'acc',
        side: sideName,
        orderType: 'limit',
        price,
        qty,
      };
      const t = book.take(buy, price, qty);
      traded += t;
      book.add(id, buy, price, qty - t);
    } else if (kind === OP_IOC) {
      const id = `o${next++}`;
      const price = buy ? MID + w.cross : MID - w.cross;
      s.ids[i] = id;
      s.price[i] = price;
      s.cmds[i] = {
        type: 'new',
        orderId: id,
        accountId: 'acc',
        side: sideName,
        orderType: 'limit',
        price,
        qty,
        tif: 'IOC',
      };
      traded += book.take(buy, price, qty);
    } else if (kind === OP_MARKET) {
      const id = `o${next++}`;
      s.ids[i] = id;
      s.cmds[i] = { type: 'new', orderId: id, accountId: 'acc', side: sideName, orderType: 'market', qty };
      traded += book.take(buy, 0, qty);
    } else if (kind === OP_CANCEL) {
      const id = book.pick(rnd());
      s.ids[i] = id;
      s.cmds[i] = { type: 'cancel', orderId: id };
      book.cancel(id);
    } else {
      const id = book.pick(rnd());
      const isBuy = book.isBuy(id);
      let price = nearTouch(isBuy);
      if (price === book.priceOf(id)) price = isBuy ? price - 1 : price + 1;
      s.ids[i] = id;
      s.side[i] = isBuy ? 0 : 1;
      s.price[i] = price;
      s.cmds[i] = { type: 'amend', orderId: id, price };
      traded += book.move(id, price);
    }
    s.tradedAfter[i] = traded;
  }
  return s;
}

// ---- runners: each returns elapsed ns over the timed part and the traded lots there ----

interface RunResult {
  ns: number;
  traded: number;
  resting: number;
  trades: number;
  lat: Float64Array | null;
}

function runEngine(s: Stream, timedOps: number, measureLatency: boolean): RunResult {
  const engine = new MatchingEngine({ symbol: 'BENCH', tickSize: 1, lotSize: 1, minQty: 1, minNotional: 0 });
  const out: EngineEvent[] = [];
  const cmds = s.cmds;
  const start = s.prefill + s.warmup;
  for (let i = 0; i < start; i++) {
    engine.process(cmds[i], out);
    out.length = 0;
  }
  let traded = 0;
  let trades = 0;
  const end = start + timedOps;
  const lat = measureLatency ? new Float64Array(timedOps) : null;
  const t0 = process.hrtime.bigint();
  for (let i = start; i < end; i++) {
    const from = out.length;
    if (lat !== null) {
      const a = process.hrtime.bigint();
      engine.process(cmds[i], out);
      lat[i - start] = Number(process.hrtime.bigint() - a);
    } else {
      engine.process(cmds[i], out);
    }
    // Consuming the events is part of the work: count the fills.
    for (let j = from; j < out.length; j++) {
      const e = out[j];
      if (e.type === 'trade') {
        traded += e.qty;
        trades++;
      }
    }
    // The caller owns `out` and clears it per batch, as a worker does per poll: `length = 0`
    // after every single command makes V8 drop the backing store and reallocate it on the next
    // push, a cost of the harness, not of the engine.
    if ((i & OUT_BATCH_MASK) === OUT_BATCH_MASK) out.length = 0;
  }
  out.length = 0;
  const ns = Number(process.hrtime.bigint() - t0);
  return { ns, traded, resting: engine.restingOrderCount, trades, lat };
}

function peerOp(ob: OrderBook, s: Stream, i: number): number {
  const side = s.side[i] === 0 ? ('buy' as never) : ('sell' as never);
  switch (s.kind[i]) {
    case OP_LIMIT: {
      const r = ob.limit({ id: s.ids[i], side, size: s.qty[i], price: s.price[i] });
      return s.qty[i] - r.quantityLeft;
    }
    case OP_IOC: {
      const r = ob.limit({
        id: s.ids[i],
        side,
        size: s.qty[i],
        price: s.price[i],
        timeInForce: 'IOC' as never,
      });
      return s.qty[i] - r.quantityLeft;
    }
    case OP_MARKET: {
      const r = ob.market({ side, size: s.qty[i] });
      return s.qty[i] - r.quantityLeft;
    }
    case OP_CANCEL:
      ob.cancel(s.ids[i]);
      return 0;
    default: {
      const before = ob.order(s.ids[i]);
      const size = before === undefined ? 0 : before.size;
      const r = ob.modify(s.ids[i], { price: s.price[i] });
      return size - r.quantityLeft;
    }
  }
}

function runPeer(s: Stream, timedOps: number, measureLatency: boolean): RunResult {
  const ob = new OrderBook();
  const start = s.prefill + s.warmup;
  for (let i = 0; i < start; i++) peerOp(ob, s, i);
  let traded = 0;
  const end = start + timedOps;
  const lat = measureLatency ? new Float64Array(timedOps) : null;
  const t0 = process.hrtime.bigint();
  for (let i = start; i < end; i++) {
    if (lat !== null) {
      const a = process.hrtime.bigint();
      traded += peerOp(ob, s, i);
      lat[i - start] = Number(process.hrtime.bigint() - a);
    } else {
      traded += peerOp(ob, s, i);
    }
  }
  const ns = Number(process.hrtime.bigint() - t0);
  const resting = Object.keys((ob as unknown as { orders: Record<string, unknown> }).orders).length;
  return { ns, traded, resting, trades: -1, lat };
}

function median(xs: number[]): number {
  const a = [...xs].sort((x, y) => x - y);
  return a[a.length >> 1];
}

function percentile(lat: Float64Array, p: number): number {
  const a = Float64Array.from(lat).sort();
  return a[Math.min(a.length - 1, Math.floor(p * a.length))];
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) g();
}

function bench(w: Workload): void {
  const t = Date.now();
  const s = generate(w);
  const start = s.prefill + s.warmup;
  const expected = s.tradedAfter[start + TIMED - 1] - (start > 0 ? s.tradedAfter[start - 1] : 0);
  const peerTimed = Math.min(w.peerTimed, TIMED);
  const peerExpected = s.tradedAfter[start + peerTimed - 1] - (start > 0 ? s.tradedAfter[start - 1] : 0);
  console.log(
    `[${w.name}] generated ${s.total} ops (prefill ${s.prefill}, warm-up ${s.warmup}, timed ${TIMED}) in ${Date.now() - t} ms`,
  );
  if (peerTimed < TIMED)
    console.log(`[${w.name}] peer runs a prefix: ${peerTimed} timed ops (too slow for ${TIMED})`);
  const engineRates: number[] = [];
  const peerRates: number[] = [];
  let engineLast: RunResult | null = null;
  let peerLast: RunResult | null = null;
  for (let r = 0; r < RUNS; r++) {
    gc();
    const a = runEngine(s, TIMED, false);
    engineRates.push((TIMED * 1e9) / a.ns);
    engineLast = a;
    gc();
    const b = engineOnly
      ? { ns: 1, traded: peerExpected, resting: 0, trades: 0, lat: null }
      : runPeer(s, peerTimed, false);
    peerRates.push((peerTimed * 1e9) / b.ns);
    peerLast = b;
    console.log(
      `[${w.name}] run ${r + 1}/${RUNS}: engine ${Math.round(engineRates[r]).toLocaleString('en-US')} ops/s, peer ${Math.round(peerRates[r]).toLocaleString('en-US')} ops/s`,
    );
  }
  gc();
  const el = runEngine(s, TIMED, true).lat as Float64Array;
  gc();
  const pl = engineOnly ? new Float64Array(1) : (runPeer(s, peerTimed, true).lat as Float64Array);
  const e = engineLast as RunResult;
  const p = peerLast as RunResult;
  const engineOps = median(engineRates);
  const peerOps = median(peerRates);
  // The peer's prefix is checked against the reference model over the same ops.
  const agree = e.traded === expected && p.traded === peerExpected;
  console.log(
    `[${w.name}] engine p50 ${(percentile(el, 0.5) / 1000).toFixed(3)} us p99 ${(percentile(el, 0.99) / 1000).toFixed(3)} us max ${(percentile(el, 1) / 1000).toFixed(1)} us; ` +
      `peer p50 ${(percentile(pl, 0.5) / 1000).toFixed(3)} us p99 ${(percentile(pl, 0.99) / 1000).toFixed(3)} us`,
  );
  console.log(
    `[${w.name}] trades ${e.trades}, traded lots engine ${e.traded} / reference ${expected}; peer ${p.traded} / reference ${peerExpected} over its ${peerTimed} ops: ${agree ? 'agree' : 'DISAGREE'}; resting at end: engine ${e.resting} orders, peer ${p.resting} orders`,
  );
  if (!agree) process.exitCode = 1;
  console.log(
    JSON.stringify({
      workload: w.name,
      ops: TIMED,
      engine_ops_per_sec: Math.round(engineOps),
      peer_ops_per_sec: Math.round(peerOps),
      ratio: Math.round((engineOps / peerOps) * 100) / 100,
      engine_p99_us: Math.round((percentile(el, 0.99) / 1000) * 1000) / 1000,
      traded_qty: e.traded,
      peer_traded_qty: p.traded,
    }),
  );
}

for (const w of workloads) if (only === undefined || only === w.name) bench(w);
