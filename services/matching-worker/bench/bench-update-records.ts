// Micro-bench of the orders.updates.v2 encoding in the matching worker: each update parsed and
// encoded on its own and the JSON joined per partition, vs. plain objects grouped and each
// partition's batch parsed once with orderUpdateBatchSchema (OrderUpdateRecords, what the worker
// does), vs. v1 (one parsed, encoded record per update). Zod + JSON only, no Kafka.
// Run: node -r @swc-node/register services/matching-worker/bench/bench-update-records.ts
import { orderUpdateSchema, type OrderUpdate } from '@trading/contracts';
import { partitionFor } from '@trading/kafka';
import { OrderUpdateRecords } from '../src/order-update-records';

const PARTITIONS = 12;
const PER_BATCH = 240; // ~100 commands of ~2.4 updates
const ROUNDS = 2000;

function updates(round: number): OrderUpdate[] {
  const out: OrderUpdate[] = [];
  for (let i = 0; i < PER_BATCH; i++) {
    const seq = round * PER_BATCH + i + 1;
    const maker = `acct-${(i * 7) % 50}`;
    const taker = `acct-${(i * 13) % 50}`;
    const accountId = i % 2 ? maker : taker;
    out.push({
      accountId,
      orderId: `01JD3Z8Q${String(seq).padStart(18, '0')}`,
      symbol: 'BTC-USDT',
      seq,
      receivedAt: 1_760_000_000_000 + i,
      emittedAt: 1_760_000_000_050 + i,
      event: {
        type: 'trade',
        seq,
        price: 6_500_000 + i,
        qty: 1000 + i,
        makerOrderId: `01JD3Z8Q${String(seq).padStart(18, '1')}`,
        takerOrderId: `01JD3Z8Q${String(seq).padStart(18, '2')}`,
        makerAccountId: maker,
        takerAccountId: taker,
        takerSide: 'buy',
        makerRemainingQty: 0,
        takerRemainingQty: 5,
      },
    });
  }
  return out;
}

const variants: Record<string, (u: OrderUpdate[]) => number> = {
  'v1: parse + encode per update, one record each': (u) => {
    let n = 0;
    for (const x of u)
      n += JSON.stringify(orderUpdateSchema.parse(x)).length + partitionFor(x.accountId, PARTITIONS);
    return n;
  },
  'v2: parse each element, join per partition': (u) => {
    const groups = new Map<number, string[]>();
    for (const x of u) {
      const json = JSON.stringify(orderUpdateSchema.parse(x));
      const p = partitionFor(x.accountId, PARTITIONS);
      const g = groups.get(p);
      if (g) g.push(json);
      else groups.set(p, [json]);
    }
    let n = 0;
    for (const g of groups.values()) n += `{"updates":[${g.join(',')}]}`.length;
    return n;
  },
  'v2: group, parse each batch once (OrderUpdateRecords)': (u) => {
    const r = new OrderUpdateRecords(PARTITIONS);
    for (const x of u) r.add(x);
    return r.records().reduce((n, x) => n + (x.message.value as string).length, 0);
  },
};

const data = Array.from({ length: 50 }, (_, i) => updates(i));
const samples = new Map<string, number[]>(Object.keys(variants).map((k) => [k, []]));
for (let pass = 0; pass < 12; pass++) {
  for (const [name, fn] of Object.entries(variants)) {
    let sink = 0;
    const started = process.hrtime.bigint();
    for (let i = 0; i < ROUNDS; i++) sink += fn(data[i % data.length]);
    const ns = Number(process.hrtime.bigint() - started) / (ROUNDS * PER_BATCH);
    if (pass > 1 && sink > 0) samples.get(name)!.push(ns / 1000);
  }
}
for (const [name, s] of samples) {
  s.sort((a, b) => a - b);
  console.log(`${name.padEnd(56)} median ${s[s.length >> 1].toFixed(2)} µs/update, min ${s[0].toFixed(2)}`);
}
