import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { databaseSchema, kafkaSchema, loadConfig, redisSchema } from '@trading/config';
import {
  depthSnapshotSchema,
  executionSchema,
  publicTradeSchema,
  redisKeys,
  streamMessageSchema,
  tickerSchema,
  TOPICS,
  type EngineEventMessage,
  type Execution,
  type StreamMessage,
} from '@trading/contracts';
import {
  CandlesRepository,
  createDataSource,
  ENTITIES,
  MarketsRepository,
  MIGRATIONS,
  TradesRepository,
} from '@trading/db';
import { BatchingProducer, createKafka, partitionFor } from '@trading/kafka';
import { startTransports } from '@trading/nest-common';
import { createRedis } from '@trading/redis';
import { AppModule } from './app.module';
import { EXECUTIONS_CONSUMER } from './market-data.tokens';
import { MarketDataConfigSchema } from './market-data.config';
// The polling helper every integration suite shares (scripts/testing; test-only, not a project import).
// eslint-disable-next-line @nx/enforce-module-boundaries
import { until } from '../../../scripts/testing/until';

// The whole service in-process against the real Kafka, PgBouncer/PostgreSQL and Redis.

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const dbConfig = loadConfig(databaseSchema);
const kafka = createKafka(loadConfig(kafkaSchema), 'market-data-int-spec');
const redisConfig = loadConfig(redisSchema);

describe('market-data on the native stack', () => {
  jest.setTimeout(120_000);
  const base = `T${randomUUID().replace(/-/g, '').slice(0, 7).toUpperCase()}`;
  const symbol = `${base}-USDT`;
  const group = `market-data-int-${randomUUID()}`;
  const minute = Math.floor(Date.now() / 60_000) * 60_000;
  const direct = createDataSource(dbConfig, {
    direct: true,
    applicationName: 'md-int-migrate',
    entities: ENTITIES,
    migrations: MIGRATIONS,
  });
  const pooled = createDataSource(dbConfig, { applicationName: 'md-int-spec', entities: ENTITIES });
  const redis = createRedis(redisConfig, 'md-int-spec');
  const subscriber = createRedis(redisConfig, 'md-int-spec-sub');
  const admin = kafka.admin();
  const messages = new Map<string, StreamMessage[]>();
  let producer: BatchingProducer;
  let partitions = 0;
  let app: NestFastifyApplication;
  let port = 0;

  const trade = (seq: number, price: number, qty: number): EngineEventMessage => ({
    type: 'trade',
    seq,
    price,
    qty,
    makerOrderId: `m-${seq}`,
    takerOrderId: `t-${seq}`,
    makerAccountId: 'acc-maker',
    takerAccountId: 'acc-taker',
    takerSide: 'buy',
    makerRemainingQty: 0,
    takerRemainingQty: 0,
  });
  const execution = (
    offset: number,
    events: EngineEventMessage[],
    depth?: Execution['depth'],
  ): Execution => ({
    symbol,
    inputPartition: 0,
    inputOffset: offset,
    receivedAt: Date.now() - 5,
    emittedAt: minute + 1000 * offset,
    events,
    ...(depth ? { depth } : {}),
  });
  // Ticks of 0.01 and lots of 0.001: 10000 ticks = 100 USDT, 2 lots = 0.002.
  const first: Execution[] = [
    execution(
      1,
      [
        {
          type: 'accepted',
          seq: 1,
          orderId: 's1',
          accountId: 'acc-maker',
          side: 'sell',
          orderType: 'limit',
          price: 10000,
          qty: 5,
        },
        {
          type: 'rested',
          seq: 2,
          orderId: 's1',
          accountId: 'acc-maker',
          side: 'sell',
          price: 10000,
          remainingQty: 5,
          visibleQty: 5,
        },
      ],
      { seq: 2, bids: [], asks: [[10000, 5, 1]] },
    ),
    execution(2, [trade(3, 10000, 2), trade(4, 10100, 1)]),
    execution(3, [trade(5, 9900, 4)], { seq: 5, bids: [[9900, 3, 1]], asks: [[10100, 2, 1]] }),
  ];
  const later = execution(4, [trade(6, 10050, 1)], { seq: 6, bids: [[9950, 3, 2]], asks: [[10100, 2, 1]] });

  const send = async (records: Execution[]) => {
    for (const value of records) {
      await producer.send({ topic: TOPICS.executions.name, key: symbol, value, schema: executionSchema });
    }
  };
  const snapshot = async (key: string): Promise<{ seq: number; data: unknown } | undefined> => {
    const raw = await redis.get(key);
    return raw ? (JSON.parse(raw) as { seq: number; data: unknown }) : undefined;
  };
  const tradeCount = async (): Promise<number> => {
    const rows = (await pooled.query(`SELECT count(*)::int AS n FROM trades WHERE symbol = $1`, [
      symbol,
    ])) as { n: number }[];
    return rows[0].n;
  };

  beforeAll(async () => {
    await direct.initialize();
    await direct.runMigrations({ transaction: 'each' });
    await pooled.initialize();
    const markets = new MarketsRepository(pooled);
    await markets.upsertAsset(base, 8);
    await markets.upsertAsset('USDT', 6);
    await markets.upsertMarket({
      symbol,
      baseAsset: base,
      quoteAsset: 'USDT',
      tickSize: '0.01',
      lotSize: '0.001',
    });

    // The test's own group starts at the topic's end: only this test's records are consumed.
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(TOPICS.executions.name);
    partitions = ends.length;
    await admin.setOffsets({
      groupId: group,
      topic: TOPICS.executions.name,
      partitions: ends.map((p) => ({ partition: p.partition, offset: p.high })),
    });
    producer = new BatchingProducer(kafka, { partitions: () => partitions });
    await producer.connect();

    await Promise.all([redis.connect(), subscriber.connect()]);
    subscriber.on('message', (channel: string, message: string) => {
      const list = messages.get(channel) ?? [];
      list.push(streamMessageSchema.parse(JSON.parse(message)));
      messages.set(channel, list);
    });
    await subscriber.subscribe(
      redisKeys.pubsub(`trades:${symbol}`),
      redisKeys.pubsub(`depth:${symbol}`),
      redisKeys.pubsub(`ticker:${symbol}`),
    );

    port = await freePort();
    const config = loadConfig(MarketDataConfigSchema, {
      ...process.env,
      HTTP_PORT: String(port),
      LOG_LEVEL: 'warn',
      INSTANCE_ID: 'int-spec',
      MARKET_DATA_GROUP_ID: group,
    });
    app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), new FastifyAdapter(), {
      logger: false,
    });
    await startTransports(app, [EXECUTIONS_CONSUMER]);
    await app.listen(port, '127.0.0.1');
  });

  afterAll(async () => {
    await app?.close();
    await producer?.disconnect();
    await admin.deleteGroups([group]).catch(() => undefined);
    await admin.disconnect();
    redis.disconnect();
    subscriber.disconnect();
    await pooled.destroy();
    await direct.destroy();
  });

  it('persists each trade once, keeps the feeds in Redis and publishes gap-free updates, even when records are redelivered', async () => {
    await send(first);
    await until('the first trades in the database and Redis', async () => {
      const trades = await snapshot(redisKeys.trades(symbol));
      const ticker = await snapshot(redisKeys.ticker(symbol));
      const done =
        (await tradeCount()) === 3 &&
        (trades?.data as unknown[] | undefined)?.length === 3 &&
        (ticker?.data as { trades?: number } | undefined)?.trades === 3;
      return done ? true : undefined;
    });

    // Redelivery of everything (as after a crash), an invalid record, then one new execution.
    await send(first);
    const raw = kafka.producer();
    await raw.connect();
    await raw.send({
      topic: TOPICS.executions.name,
      messages: [
        {
          key: symbol,
          value: JSON.stringify({ symbol, events: 'nope' }),
          partition: partitionFor(symbol, partitions),
        },
      ],
    });
    await raw.disconnect();
    await send([later]);

    const depth = await until('the last depth', async () => {
      const s = await snapshot(redisKeys.depth(symbol));
      return s && depthSnapshotSchema.parse(s.data).engineSeq === 6 ? s : undefined;
    });
    const ticker = await until('the ticker after the last trade', async () => {
      const s = await snapshot(redisKeys.ticker(symbol));
      const t = s ? tickerSchema.parse(s.data) : undefined;
      return s && t && t.trades === 4 && t.bestBid === '99.5' ? s : undefined;
    });
    const trades = await until('the last trade in Redis', async () => {
      const s = await snapshot(redisKeys.trades(symbol));
      return s && (s.data as unknown[]).length === 4 ? s : undefined;
    });

    // Database: exactly once.
    expect(await tradeCount()).toBe(4);
    const recent = await new TradesRepository(pooled).recent(symbol, 10);
    expect(recent.map((t) => [t.seq, t.price, t.qty])).toEqual([
      [6, 10050, 1],
      [5, 9900, 4],
      [4, 10100, 1],
      [3, 10000, 2],
    ]);
    expect(recent[0].executedAt.getTime()).toBe(later.emittedAt);

    // Redis snapshots: decimal strings, newest trade first.
    expect(
      publicTradeSchema
        .array()
        .parse(trades.data)
        .map((t) => [t.tradeId, t.price, t.qty]),
    ).toEqual([
      [`${symbol}:6`, '100.5', '0.001'],
      [`${symbol}:5`, '99', '0.004'],
      [`${symbol}:4`, '101', '0.001'],
      [`${symbol}:3`, '100', '0.002'],
    ]);
    expect(depthSnapshotSchema.parse(depth.data)).toEqual({
      symbol,
      engineSeq: 6,
      bids: [['99.5', '0.003', 2]],
      asks: [['101', '0.002', 1]],
      time: later.emittedAt,
    });
    expect(tickerSchema.parse(ticker.data)).toMatchObject({
      symbol,
      open: '100',
      high: '101',
      low: '99',
      last: '100.5',
      volume: '0.008',
      // (10000x2 + 10100x1 + 9900x4 + 10050x1) tick-lots x 0.00001
      quoteVolume: '0.7975',
      trades: 4,
      bestBid: '99.5',
      bestAsk: '101',
    });

    // Pub/sub: one message per new trade and per new book, seq gap-free from 1, none for replays,
    // and each snapshot's seq is the seq of the last message it includes.
    const tradeMessages = messages.get(redisKeys.pubsub(`trades:${symbol}`)) ?? [];
    expect(tradeMessages.map((m) => m.seq)).toEqual([1, 2, 3, 4]);
    expect(tradeMessages.map((m) => publicTradeSchema.parse(m.data).seq)).toEqual([3, 4, 5, 6]);
    expect(tradeMessages.every((m) => m.channel === `trades:${symbol}`)).toBe(true);
    expect(trades.seq).toBe(4);
    const depthMessages = messages.get(redisKeys.pubsub(`depth:${symbol}`)) ?? [];
    // Books within one consumed batch collapse to the newest, so 2 or 3 messages: never a replay.
    const engineSeqs = depthMessages.map((m) => depthSnapshotSchema.parse(m.data).engineSeq);
    expect(depthMessages.map((m) => m.seq)).toEqual(depthMessages.map((_, i) => i + 1));
    expect(engineSeqs).toEqual([...new Set(engineSeqs)].sort((a, b) => a - b));
    expect(engineSeqs[engineSeqs.length - 1]).toBe(6);
    expect(engineSeqs.length).toBeLessThanOrEqual(3);
    expect(depth.seq).toBe(depthMessages.length);
    const tickerMessages = messages.get(redisKeys.pubsub(`ticker:${symbol}`)) ?? [];
    expect(tickerMessages.map((m) => m.seq)).toEqual(tickerMessages.map((_, i) => i + 1));
    expect(tickerMessages[tickerMessages.length - 1]?.seq).toBe(ticker.seq);
  });

  it('gives the 1m candle with the right open, high, low, close and volume', async () => {
    const candles = await new CandlesRepository(pooled).find(
      symbol,
      '1m',
      new Date(minute - 60_000),
      new Date(minute + 120_000),
      10,
    );
    expect(candles).toEqual([
      {
        bucket: new Date(minute),
        open: '10000',
        high: '10100',
        low: '9900',
        close: '10050',
        volume: '8',
        trades: 4,
      },
    ]);
  });

  it('pages an account fills from both sides of the book', async () => {
    const repo = new TradesRepository(pooled);
    const page1 = await repo.forAccount('acc-maker', { symbol, limit: 3 });
    expect(page1.fills.map((f) => [f.seq, f.liquidity, f.side])).toEqual([
      [6, 'maker', 'sell'],
      [5, 'maker', 'sell'],
      [4, 'maker', 'sell'],
    ]);
    const page2 = await repo.forAccount('acc-maker', { symbol, limit: 3, cursor: page1.nextCursor! });
    expect(page2.fills.map((f) => f.seq)).toEqual([3]);
    expect(page2.nextCursor).toBeNull();
    const taker = await repo.forAccount('acc-taker', { symbol, limit: 10 });
    expect(taker.fills.map((f) => [f.seq, f.liquidity, f.side, f.orderId])).toEqual([
      [6, 'taker', 'buy', 't-6'],
      [5, 'taker', 'buy', 't-5'],
      [4, 'taker', 'buy', 't-4'],
      [3, 'taker', 'buy', 't-3'],
    ]);
    await expect(repo.forAccount('acc-taker', { limit: 1, cursor: 'garbage' })).rejects.toThrow(RangeError);
  });

  it('exports the market-data metrics', async () => {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(text).toMatch(
      new RegExp(`market_data_trades_persisted_total\\{[^}]*symbol="${symbol}"[^}]*\\} 4`),
    );
    expect(text).toContain('pipeline_trade_persisted_seconds_count');
    expect(text).toContain('market_data_db_write_duration_seconds_bucket');
    expect(text).toContain('market_data_redis_duration_seconds_bucket');
    expect(text).toMatch(/market_data_dead_letters_total\{[^}]*\} [1-9]/);
  });
});
