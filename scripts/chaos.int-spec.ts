import { execFileSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { join } from 'node:path';
import { AssignerProtocol, Kafka, type Producer } from 'kafkajs';
import type { DataSource } from 'typeorm';
import { databaseSchema, kafkaSchema, loadConfig } from '@trading/config';
import {
  sequencedCommandSchema,
  toMarketSpec,
  TOPICS,
  type OrderCommand,
  type SequencedCommand,
} from '@trading/contracts';
import { createDataSource, MarketsRepository } from '@trading/db';
import { partitionFor } from '@trading/kafka';
import { MatchingEngine, type EngineEvent } from '@trading/matching-engine';
import { symbolConfig } from '../services/matching-worker/src/partition-book';
import {
  nativeEnv,
  SERVICE_PORTS,
  startService,
  stopProcess,
  testPort,
  waitReady,
} from './testing/native-services';

// Crash recovery under a steady stream: three matching workers with one SIGKILLed mid-stream,
// and the order-router SIGKILLed and restarted. Afterwards nothing is lost or duplicated: the
// trades equal a replay of the routed commands through the engine alone, and the money
// reconciles (balances = ledger replay, holds explained, conservation).
const root = join(__dirname, '..');
const run = randomUUID().replace(/-/g, '').slice(0, 6).toUpperCase();
const symbol = `C${run}-USDT`;
const base = `C${run}`;
const accounts = ['a', 'b', 'c'].map((x) => `chaos-${x}-${run}`);

describe('crash recovery of matching workers and the order-router', () => {
  jest.setTimeout(240_000);
  const kafkaConfig = loadConfig(kafkaSchema);
  const kafka = new Kafka({ brokers: kafkaConfig.KAFKA_BROKERS, clientId: 'chaos-spec', logLevel: 1 });
  const children: ChildProcess[] = [];
  let producer: Producer;
  let db: DataSource;

  const send = async (commands: OrderCommand[]): Promise<void> => {
    await producer.send({
      topic: TOPICS.orderCommands.name,
      acks: -1,
      messages: commands.map((c) => ({
        key: c.accountId,
        partition: partitionFor(c.accountId, kafkaConfig.KAFKA_PARTITIONS),
        value: JSON.stringify(c),
      })),
    });
  };

  beforeAll(async () => {
    db = createDataSource(loadConfig(databaseSchema), { applicationName: 'chaos' });
    await db.initialize();
    const markets = new MarketsRepository(db);
    await markets.upsertAsset('USDT', 6);
    await markets.upsertAsset(base, 8);
    await markets.upsertMarket({
      symbol,
      baseAsset: base,
      quoteAsset: 'USDT',
      tickSize: '0.01',
      lotSize: '0.0001',
      minNotional: '0',
      makerFeeBps: 10,
      takerFeeBps: 25,
    });
    producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
  });

  afterAll(async () => {
    await Promise.all(children.map(stopProcess));
    await producer?.disconnect();
    await db?.destroy();
  });

  it('loses and duplicates nothing when a worker and the router are killed mid-stream', async () => {
    // Its workers must be the whole matching group, or the victim may not own the symbol.
    const platformWorker = await fetch(
      `http://127.0.0.1:${SERVICE_PORTS['matching-worker']}/health/live`,
    ).then(
      () => true,
      () => false,
    );
    if (platformWorker)
      throw new Error(
        'matching workers of `npm run platform` are running: stop them first (npm run platform -- down)',
      );
    const router = startService('order-router', testPort(18781), 'chaos-r');
    const workers = [0, 1, 2].map((i) =>
      startService('matching-worker', testPort(18790 + i), `chaos-${i}`, { KAFKA_CLIENT_ID: `chaos-w${i}` }),
    );
    const marketData = startService('market-data', testPort(18782), 'chaos-md');
    children.push(router, ...workers, marketData);
    await Promise.all([
      waitReady(testPort(18781), router),
      ...workers.map((w, i) => waitReady(testPort(18790 + i), w)),
      waitReady(testPort(18782), marketData),
    ]);
    // Let the market catalogs see the new market.
    await new Promise((r) => setTimeout(r, 2500));
    // The worker to kill is the one that owns the symbol's partition.
    const partition = partitionFor(symbol, kafkaConfig.KAFKA_PARTITIONS);
    // Found from the group itself: each test worker has its own Kafka client id.
    let victim = -1;
    let members = '';
    const admin = kafka.admin();
    await admin.connect();
    for (let i = 0; victim < 0 && i < 120; i++) {
      const { groups } = await admin.describeGroups(['matching-worker']);
      const group = groups[0];
      members = JSON.stringify(
        group.members.map((m) => ({
          clientId: m.clientId,
          assignment:
            group.state === 'Stable' && m.memberAssignment.length
              ? AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment
              : null,
        })),
      );
      if (group.state === 'Stable') {
        for (const m of group.members) {
          const owned = m.memberAssignment.length
            ? AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment[
                TOPICS.ordersSequenced.name
              ]
            : undefined;
          const w = /^chaos-w(\d)$/.exec(m.clientId);
          if (w && owned?.includes(partition)) victim = Number(w[1]);
        }
      }
      if (victim < 0) await new Promise((r) => setTimeout(r, 500));
    }
    await admin.disconnect();
    if (victim < 0) throw new Error(`no test worker owns partition ${partition}; group members: ${members}`);

    const now = Date.now();
    await send(
      accounts.flatMap((accountId) => [
        {
          kind: 'deposit' as const,
          commandId: randomUUID(),
          accountId,
          asset: base,
          amount: 10_000_000_000,
          receivedAt: now,
        },
        {
          kind: 'deposit' as const,
          commandId: randomUUID(),
          accountId,
          asset: 'USDT',
          amount: 10_000_000_000_000,
          receivedAt: now,
        },
      ]),
    );

    // 900 orders in 18 paced batches; deterministic prices so both sides trade.
    let n = 0;
    let restarted: ChildProcess | null = null;
    for (let batch = 0; batch < 18; batch++) {
      const commands: OrderCommand[] = [];
      for (let i = 0; i < 50; i++, n++) {
        const side = n % 2 === 0 ? 'buy' : 'sell';
        const price = 10_000 + ((n * 7919) % 21) - 10;
        commands.push({
          kind: 'place',
          commandId: randomUUID(),
          orderId: randomUUID(),
          accountId: accounts[n % 3],
          symbol,
          receivedAt: Date.now(),
          side,
          orderType: 'limit',
          qty: 1 + (n % 5),
          price,
          tif: n % 10 === 0 ? 'IOC' : 'GTC',
          postOnly: false,
          stp: 'none',
        });
      }
      await send(commands);
      if (batch === 5) workers[victim].kill('SIGKILL');
      if (batch === 11) {
        router.kill('SIGKILL');
        await once(router, 'exit');
        restarted = startService('order-router', testPort(18781), 'chaos-r');
        children.push(restarted);
      }
      await new Promise((r) => setTimeout(r, 150));
    }
    await waitReady(testPort(18781), restarted!);

    // Drain: no order of the run pending, and the trade count steady.
    let last = -1;
    for (let stable = 0, i = 0; stable < 4 && i < 200; i++) {
      const [{ pending, trades }] = (await db.query(
        `SELECT (SELECT count(*) FROM orders WHERE symbol = $1 AND status = 'pending')::int AS pending,
                (SELECT count(*) FROM trades WHERE symbol = $1)::int AS trades`,
        [symbol],
      )) as { pending: number; trades: number }[];
      stable = pending === 0 && trades === last ? stable + 1 : 0;
      last = trades;
      await new Promise((r) => setTimeout(r, 500));
    }
    const [{ orders }] = (await db.query(`SELECT count(*)::int AS orders FROM orders WHERE symbol = $1`, [
      symbol,
    ])) as { orders: number }[];
    expect(orders).toBe(900);

    // Replay what matching was asked to do, through the engine alone.
    const commands: SequencedCommand[] = [];
    const seen = new Set<string>();
    const consumer = kafka.consumer({ groupId: `chaos-replay-${run}`, readUncommitted: false });
    const ends = await kafka
      .admin()
      .fetchTopicOffsets(TOPICS.ordersSequenced.name)
      .catch(() => []);
    const end = Number(
      ends.find((e) => e.partition === partitionFor(symbol, kafkaConfig.KAFKA_PARTITIONS))?.high ?? 0,
    );
    await consumer.connect();
    await consumer.subscribe({ topic: TOPICS.ordersSequenced.name, fromBeginning: true });
    let reached = false;
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        if (
          partition === partitionFor(symbol, kafkaConfig.KAFKA_PARTITIONS) &&
          Number(message.offset) >= end - 1
        )
          reached = true;
        const v = sequencedCommandSchema.parse(JSON.parse(message.value!.toString()));
        if (v.symbol !== symbol) return;
        const id = `${v.source.partition}:${v.source.offset}`;
        if (seen.has(id)) return; // a router re-send, dropped by the workers too
        seen.add(id);
        commands.push(v);
      },
    });
    for (let i = 0; !reached && i < 300; i++) await new Promise((r) => setTimeout(r, 100));
    await consumer.disconnect();

    const [row] = await new MarketsRepository(db)
      .findRows()
      .then((rows) => rows.filter((r) => r.symbol === symbol));
    const engine = new MatchingEngine(symbolConfig(toMarketSpec(row)));
    const expected: string[] = [];
    const out: EngineEvent[] = [];
    for (const c of commands) {
      out.length = 0;
      engine.process(c.command, out);
      for (const e of out)
        if (e.type === 'trade')
          expected.push(`${e.seq}:${e.price}:${e.qty}:${e.makerOrderId}:${e.takerOrderId}`);
    }
    const actual = (
      (await db.query(
        `SELECT seq, price, qty, maker_order_id, taker_order_id FROM trades WHERE symbol = $1 ORDER BY seq`,
        [symbol],
      )) as { seq: string; price: string; qty: string; maker_order_id: string; taker_order_id: string }[]
    ).map((t) => `${t.seq}:${t.price}:${t.qty}:${t.maker_order_id}:${t.taker_order_id}`);
    expect(expected.length).toBeGreaterThan(50);
    expect(actual).toEqual(expected);

    const report = execFileSync(
      process.execPath,
      [join(root, 'dist/services/order-router/src/reconcile.main.js')],
      { env: { ...process.env, ...nativeEnv() }, encoding: 'utf8' },
    );
    expect(report).toContain('"reconciliation":"ok"');
  });
});
