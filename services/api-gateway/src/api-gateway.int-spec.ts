import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import type { INestApplication } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import type { Kafka } from 'kafkajs';
import type Redis from 'ioredis';
import type { DataSource } from 'typeorm';
import { loadConfig } from '@trading/config';
import { orderCommandSchema, redisKeys, STREAM_PATH, TOPICS, type OrderCommand } from '@trading/contracts';
import {
  AccountsRepository,
  ApiKeysRepository,
  BalancesRepository,
  createDataSource,
  MarketsRepository,
} from '@trading/db';
import { createKafka, partitionFor } from '@trading/kafka';
import { bootstrapService } from '@trading/nest-common';
import { createRedis } from '@trading/redis';
import { ApiGatewayConfigSchema, decodeEncryptionKey, type ApiGatewayConfig } from './api-gateway.config';
import { AppModule } from './app.module';
import { ApiKeyIssuer, type IssuedKey } from './auth/api-key.issuer';
import { SecretCipher } from './auth/secret.cipher';
import { signRequest } from './auth/signature';
import { configureGateway } from './configure-app';
// A test-only helper shared with the integration suites under scripts/ (not a project import).
// eslint-disable-next-line @nx/enforce-module-boundaries
import { checkResponse } from '../../../scripts/testing/openapi-check';

// The gateway in-process against the real Kafka, PgBouncer and Redis: a unique market and two
// accounts per run, so nothing collides with other tests or a running platform.

interface TestSocket {
  readyState: number;
  send(data: string): void;
  close(): void;
  on(event: 'open' | 'close', cb: () => void): void;
  on(event: 'message', cb: (data: Buffer) => void): void;
  on(event: 'error', cb: (err: Error) => void): void;
}
const { WebSocket } = createRequire(__filename)('ws') as { WebSocket: new (url: string) => TestSocket };

jest.setTimeout(90_000);

const suffix = randomBytes(3).toString('hex').toUpperCase();
const BASE = `G${suffix}`;
const SYMBOL = `${BASE}-USDT`;
const ACCOUNT_A = `it-a-${suffix.toLowerCase()}`;
const ACCOUNT_B = `it-b-${suffix.toLowerCase()}`;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

describe('api-gateway against the native infrastructure', () => {
  let config: ApiGatewayConfig;
  let app: INestApplication;
  let base: string;
  let db: DataSource;
  let kafka: Kafka;
  let redis: Redis;
  let keyA: IssuedKey;
  let keyB: IssuedKey;
  const startOffsets = new Map<number, string>();
  const partitionOf = (account: string) => partitionFor(account, config.KAFKA_PARTITIONS);

  async function call(
    method: string,
    path: string,
    opts: {
      body?: string;
      key?: IssuedKey | null;
      ts?: number;
      signature?: string;
      contentType?: string;
    } = {},
  ): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
    const body = opts.body ?? '';
    const headers: Record<string, string> = {};
    if (body) headers['content-type'] = opts.contentType ?? 'application/json';
    const key = opts.key === undefined ? keyA : opts.key;
    if (key) {
      const ts = String(opts.ts ?? Date.now());
      headers['x-api-key'] = key.keyId;
      headers['x-api-timestamp'] = ts;
      headers['x-api-signature'] = opts.signature ?? signRequest(key.secret, ts, method, path, body);
    }
    const res = await fetch(`${base}${path}`, { method, headers, body: body || undefined });
    const text = await res.text();
    const json = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
    await checkResponse(base, method, path, res.status, json);
    return { status: res.status, json: json ?? {}, headers: res.headers };
  }

  const order = (over: Record<string, unknown> = {}) =>
    JSON.stringify({ symbol: SYMBOL, side: 'buy', type: 'limit', price: '100.25', quantity: '0.5', ...over });

  beforeAll(async () => {
    const port = await freePort();
    config = loadConfig(ApiGatewayConfigSchema, {
      ...process.env,
      HTTP_PORT: String(port),
      LOG_LEVEL: 'warn',
      API_KEY_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      API_KEY_ENCRYPTION_KEY_FILE: undefined,
    });
    db = createDataSource(config, { applicationName: 'api-gateway-int-spec' });
    await db.initialize();
    const markets = new MarketsRepository(db);
    await markets.upsertAsset(BASE, 8);
    await markets.upsertAsset('USDT', 6);
    await markets.upsertMarket({
      symbol: SYMBOL,
      baseAsset: BASE,
      quoteAsset: 'USDT',
      tickSize: '0.01',
      lotSize: '0.0001',
      minNotional: '1',
    });
    const accounts = new AccountsRepository(db);
    await accounts.ensure(ACCOUNT_A, 'int-spec A');
    await accounts.ensure(ACCOUNT_B, 'int-spec B');
    const issuer = new ApiKeyIssuer(
      new ApiKeysRepository(db),
      new SecretCipher(decodeEncryptionKey(config.API_KEY_ENCRYPTION_KEY)),
    );
    keyA = await issuer.issue(ACCOUNT_A, 'int-spec');
    keyB = await issuer.issue(ACCOUNT_B, 'int-spec');

    kafka = createKafka(config, 'api-gateway-int-spec');
    const admin = kafka.admin();
    await admin.connect();
    for (const o of await admin.fetchTopicOffsets(TOPICS.orderCommands.name))
      startOffsets.set(o.partition, o.high);
    await admin.disconnect();

    redis = createRedis(config, 'api-gateway-int-spec');
    await redis.connect();

    app = await bootstrapService(AppModule.forRoot(config), {
      host: '127.0.0.1',
      port,
      shutdownTimeoutMs: 10_000,
      bodyLimitBytes: config.BODY_LIMIT_BYTES,
      configure: (a) => configureGateway(a, config),
    });
    base = `http://127.0.0.1:${port}`;
    // Ready once Kafka, the database and Redis answer.
    for (let i = 0; i < 100; i++) {
      const res = await fetch(`${base}/health/ready`);
      if (res.ok) break;
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  afterAll(async () => {
    await app?.close();
    await redis?.del(redisKeys.depth(SYMBOL), redisKeys.ticker(SYMBOL));
    redis?.disconnect();
    await db?.destroy();
  });

  /** Every command for `account` produced since the test started, in order. */
  async function commandsFor(account: string): Promise<OrderCommand[]> {
    const partition = partitionOf(account);
    const admin = kafka.admin();
    await admin.connect();
    const end = (await admin.fetchTopicOffsets(TOPICS.orderCommands.name)).find(
      (o) => o.partition === partition,
    )!.high;
    await admin.disconnect();
    const start = startOffsets.get(partition) ?? '0';
    if (BigInt(end) <= BigInt(start)) return [];
    const consumer = kafka.consumer({ groupId: `api-gateway-int-spec-${randomUUID()}` });
    const found: OrderCommand[] = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: TOPICS.orderCommands.name });
      let done!: () => void;
      const finished = new Promise<void>((r) => (done = r));
      await consumer.run({
        eachMessage: async ({ partition: p, message }) => {
          if (p !== partition) return;
          if (message.key?.toString() === account)
            found.push(orderCommandSchema.parse(JSON.parse(message.value!.toString())));
          if (BigInt(message.offset) + 1n >= BigInt(end)) done();
        },
      });
      consumer.seek({ topic: TOPICS.orderCommands.name, partition, offset: start });
      await finished;
    } finally {
      await consumer.disconnect();
    }
    return found;
  }

  let placedOrderId = '';
  const clientOrderId = `coid-${suffix}`;

  it('accepts a signed order with 202 once Kafka has its command, converted to ticks and lots', async () => {
    const res = await call('POST', '/v1/orders', { body: order({ clientOrderId }) });
    expect(res.status).toBe(202);
    expect(res.json).toMatchObject({ clientOrderId, status: 'pending' });
    placedOrderId = res.json.orderId as string;
    expect(placedOrderId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('returns the same order for a repeated clientOrderId (the retry carries the same order id)', async () => {
    const res = await call('POST', '/v1/orders', { body: order({ clientOrderId }) });
    expect(res.status).toBe(202);
    expect(res.json.orderId).toBe(placedOrderId);
  });

  it.each([
    ['an unknown symbol', order({ symbol: 'NOPE-USDT' }), 400, 'UNKNOWN_SYMBOL', 'symbol'],
    ['an off-tick price', order({ price: '100.255' }), 400, 'PRICE_OFF_TICK', 'price'],
    ['a zero quantity', order({ quantity: '0' }), 400, 'INVALID_QUANTITY', 'quantity'],
    ['a negative quantity', order({ quantity: '-1' }), 400, 'INVALID_QUANTITY', 'quantity'],
    ['a non-numeric quantity', order({ quantity: 'lots' }), 400, 'INVALID_QUANTITY', 'quantity'],
    ['a numeric quantity', order({ quantity: 0.5 }), 400, 'VALIDATION_FAILED', 'quantity'],
    ['an unknown field', order({ leverage: '10' }), 400, 'VALIDATION_FAILED', 'leverage'],
    [
      'a market buy with neither protectionPrice nor quoteBudget',
      order({ type: 'market', price: undefined }),
      400,
      'MARKET_BUY_UNBOUNDED',
      'protectionPrice',
    ],
    [
      'a stop-market buy with neither protectionPrice nor quoteBudget',
      order({ type: 'stop-market', price: undefined, stopPrice: '101' }),
      400,
      'MARKET_BUY_UNBOUNDED',
      'protectionPrice',
    ],
    [
      'a notional below the minimum',
      order({ price: '1', quantity: '0.5' }),
      400,
      'BELOW_MIN_NOTIONAL',
      'quantity',
    ],
  ])('refuses %s naming the field', async (_name, body, status, code, field) => {
    const res = await call('POST', '/v1/orders', { body });
    expect(res.status).toBe(status);
    expect(res.json).toEqual({ error: { code, field, message: expect.any(String) } });
  });

  it('refuses malformed JSON and an oversized body', async () => {
    const bad = await call('POST', '/v1/orders', { body: '{"symbol":' });
    expect(bad.status).toBe(400);
    expect((bad.json.error as { code: string }).code).toBe('MALFORMED_JSON');
    const big = await call('POST', '/v1/orders', {
      body: order({ clientOrderId: 'x', pad: 'a'.repeat(70 * 1024) }),
    });
    expect(big.status).toBe(413);
    expect((big.json.error as { code: string }).code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('refuses a bad signature, a stale timestamp and an unknown key with 401', async () => {
    const body = order();
    const badSig = await call('POST', '/v1/orders', {
      body,
      signature: signRequest(keyA.secret, Date.now(), 'POST', '/v1/orders', `${body} `),
    });
    expect([badSig.status, (badSig.json.error as { code: string }).code]).toEqual([401, 'BAD_SIGNATURE']);
    const stale = await call('POST', '/v1/orders', { body, ts: Date.now() - 6000 });
    expect([stale.status, (stale.json.error as { code: string }).code]).toEqual([401, 'STALE_TIMESTAMP']);
    const unknown = await call('POST', '/v1/orders', { body, key: { ...keyA, keyId: 'ak_unknown' } });
    expect([unknown.status, (unknown.json.error as { code: string }).code]).toEqual([401, 'INVALID_API_KEY']);
    const none = await call('POST', '/v1/orders', { body, key: null });
    expect(none.status).toBe(401);
  });

  describe('an order the router persisted', () => {
    const orderId = randomUUID();

    beforeAll(async () => {
      // Stands in for the order-router's row (test fixture, not gateway code).
      await db.query(
        `INSERT INTO orders (order_id, account_id, symbol, side, order_type, tif, price, qty, filled_qty, filled_notional, status, received_at)
         VALUES ($1, $2, $3, 'buy', 'limit', 'GTC', 10025, 5000, 2000, 20050000, 'partially_filled', now())`,
        [orderId, ACCOUNT_A, SYMBOL],
      );
    });

    it('is readable by its owner with decimals restored', async () => {
      const res = await call('GET', `/v1/orders/${orderId}`);
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({
        orderId,
        symbol: SYMBOL,
        price: '100.25',
        quantity: '0.5',
        filledQuantity: '0.2',
        averagePrice: '100.25',
        status: 'partially_filled',
      });
      const list = await call('GET', `/v1/orders?symbol=${SYMBOL}&limit=10`);
      expect((list.json.data as { orderId: string }[]).map((o) => o.orderId)).toContain(orderId);
    });

    it('is not found for another account, whether read, amended or cancelled', async () => {
      for (const [method, body] of [
        ['GET', ''],
        ['DELETE', ''],
        ['PATCH', '{"price":"101"}'],
      ] as const) {
        const res = await call(method, `/v1/orders/${orderId}`, { key: keyB, body });
        expect([method, res.status, (res.json.error as { code: string }).code]).toEqual([
          method,
          404,
          'ORDER_NOT_FOUND',
        ]);
      }
    });

    it('is cancelled by its owner with 202', async () => {
      const res = await call('DELETE', `/v1/orders/${orderId}`);
      expect(res.status).toBe(202);
      expect(res.json).toMatchObject({ orderId, status: 'cancel_requested' });
    });

    it('puts on Kafka exactly the accepted commands and nothing for refused requests', async () => {
      const a = await commandsFor(ACCOUNT_A);
      // The clientOrderId retry is sent again under the same order id; the router keeps one.
      expect(a.map((c) => [c.kind, 'orderId' in c ? c.orderId : null])).toEqual([
        ['place', placedOrderId],
        ['place', placedOrderId],
        ['cancel', orderId],
      ]);
      expect(a[0]).toMatchObject({
        symbol: SYMBOL,
        side: 'buy',
        orderType: 'limit',
        price: 10025,
        qty: 5000,
        clientOrderId,
        accountId: ACCOUNT_A,
      });
      expect(await commandsFor(ACCOUNT_B)).toEqual([]);
    });
  });

  it('lists the ledger as {data, nextCursor}, newest first, paging with the cursor', async () => {
    // Two deposits as the order-router posts them (ledger rows and balances in one statement).
    const deposit = (n: number, units: bigint) => ({
      key: `it-ledger-${suffix}-${n}`,
      accountId: ACCOUNT_A,
      asset: 'USDT',
      availableDelta: units,
      heldDelta: 0n,
      kind: 'deposit',
      ref: `ledger-${n}-${suffix}`,
    });
    await new BalancesRepository(db).post([deposit(1, 5_000_000n)]);
    await new BalancesRepository(db).post([deposit(2, 7_000_000n)]);
    const first = await call('GET', '/v1/ledger?asset=USDT&limit=1');
    expect(first.status).toBe(200);
    expect(Object.keys(first.json).sort()).toEqual(['data', 'nextCursor']);
    expect(first.json.data).toEqual([
      expect.objectContaining({
        asset: 'USDT',
        availableDelta: '7',
        kind: 'deposit',
        ref: `ledger-2-${suffix}`,
      }),
    ]);
    const second = await call('GET', `/v1/ledger?asset=USDT&limit=1&cursor=${String(first.json.nextCursor)}`);
    expect(second.json.data).toEqual([
      expect.objectContaining({ availableDelta: '5', ref: `ledger-1-${suffix}` }),
    ]);
    const rest = await call('GET', `/v1/ledger?asset=USDT&limit=1&cursor=${String(second.json.nextCursor)}`);
    expect(rest.json).toEqual({ data: [], nextCursor: null });
  });

  it('lists fills for both sides of a trade and builds candles from it', async () => {
    // A trade as market-data would have persisted it (test fixture).
    await db.query(
      `INSERT INTO trades (symbol, seq, price, qty, maker_order_id, taker_order_id, maker_account_id, taker_account_id, taker_side, received_at, executed_at)
       VALUES ($1, 1, 10025, 2000, 'm-1', 't-1', $2, $3, 'sell', now(), now())`,
      [SYMBOL, ACCOUNT_A, ACCOUNT_B],
    );
    const a = await call('GET', `/v1/fills?symbol=${SYMBOL}`);
    expect(a.json.data).toEqual([
      expect.objectContaining({
        tradeId: `${SYMBOL}:1`,
        orderId: 'm-1',
        side: 'buy',
        liquidity: 'maker',
        price: '100.25',
        quantity: '0.2',
      }),
    ]);
    const b = await call('GET', '/v1/fills', { key: keyB });
    expect(b.json.data).toEqual([
      expect.objectContaining({ orderId: 't-1', side: 'sell', liquidity: 'taker' }),
    ]);
    const bad = await call('GET', '/v1/fills?cursor=abc');
    expect([bad.status, (bad.json.error as { code: string }).code]).toEqual([400, 'INVALID_CURSOR']);
    const candles = await call(
      'GET',
      `/v1/markets/${SYMBOL}/candles?interval=1m&from=${Date.now() - 600_000}`,
      { key: null },
    );
    expect(candles.json.data).toEqual([
      expect.objectContaining({
        open: '100.25',
        high: '100.25',
        low: '100.25',
        close: '100.25',
        volume: '0.2',
        trades: 1,
      }),
    ]);
  });

  it('serves depth and ticker from Redis, and an empty book when there is none', async () => {
    const empty = await call('GET', `/v1/markets/${SYMBOL}/depth`, { key: null });
    // seq is 0 unless a platform running beside this test already published the (empty) book.
    expect(empty.json).toMatchObject({ symbol: SYMBOL, bids: [], asks: [] });
    const book = {
      symbol: SYMBOL,
      engineSeq: 9,
      bids: [
        ['100.25', '0.5', 1],
        ['100.2', '1', 2],
      ],
      asks: [['101', '0.1', 1]],
      time: 1,
    };
    await redis.set(redisKeys.depth(SYMBOL), JSON.stringify({ seq: 4, data: book }));
    const ticker = {
      symbol: SYMBOL,
      last: '100.25',
      open: '99',
      high: '101',
      low: '98',
      volume: '3',
      quoteVolume: '300',
      trades: 3,
      bestBid: '100.25',
      bestAsk: '101',
      time: 2,
    };
    await redis.set(redisKeys.ticker(SYMBOL), JSON.stringify({ seq: 2, data: ticker }));
    const depth = await call('GET', `/v1/markets/${SYMBOL}/depth?levels=1`, { key: null });
    expect(depth.json).toMatchObject({
      seq: 4,
      engineSeq: 9,
      bids: [['100.25', '0.5', 1]],
      asks: [['101', '0.1', 1]],
    });
    const t = await call('GET', `/v1/markets/${SYMBOL}/ticker`, { key: null });
    expect(t.json).toEqual({ symbol: SYMBOL, seq: 2, data: ticker });
    // levels: 1..DEPTH_LEVELS (20 by default), the levels a snapshot carries; more is refused.
    expect(config.DEPTH_LEVELS).toBe(20);
    const all = await call('GET', `/v1/markets/${SYMBOL}/depth?levels=20`, { key: null });
    expect(all.status).toBe(200);
    const beyond = await call('GET', `/v1/markets/${SYMBOL}/depth?levels=21`, { key: null });
    expect([beyond.status, beyond.json.error]).toEqual([
      400,
      { code: 'VALIDATION_FAILED', field: 'levels', message: expect.any(String) },
    ]);
  });

  it('streams a snapshot then the next update, and the own orders only after auth', async () => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}${STREAM_PATH}`);
    const frames: Record<string, unknown>[] = [];
    const waiters: (() => void)[] = [];
    ws.on('message', (d) => {
      frames.push(JSON.parse(d.toString()) as Record<string, unknown>);
      waiters.splice(0).forEach((w) => w());
    });
    const next = async (pred: (f: Record<string, unknown>) => boolean) => {
      for (let i = 0; i < 50; i++) {
        const hit = frames.find(pred);
        if (hit) return hit;
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 100);
        });
      }
      throw new Error(`no frame matched; got ${JSON.stringify(frames)}`);
    };
    await new Promise<void>((r) => ws.on('open', r));
    try {
      await redis.set(
        redisKeys.depth(SYMBOL),
        JSON.stringify({ seq: 5, data: { symbol: SYMBOL, engineSeq: 10, bids: [], asks: [], time: 3 } }),
      );
      ws.send(JSON.stringify({ op: 'subscribe', channel: `depth:${SYMBOL}` }));
      expect(await next((f) => f.type === 'snapshot')).toMatchObject({
        channel: `depth:${SYMBOL}`,
        seq: 5,
        data: { engineSeq: 10 },
      });
      await redis.publish(
        redisKeys.pubsub(`depth:${SYMBOL}`),
        JSON.stringify({ channel: `depth:${SYMBOL}`, seq: 5, data: { stale: true } }),
      );
      await redis.publish(
        redisKeys.pubsub(`depth:${SYMBOL}`),
        JSON.stringify({ channel: `depth:${SYMBOL}`, seq: 6, data: { engineSeq: 11 } }),
      );
      expect(await next((f) => f.type === 'update')).toEqual({
        type: 'update',
        channel: `depth:${SYMBOL}`,
        seq: 6,
        data: { engineSeq: 11 },
      });

      ws.send('not json');
      expect(await next((f) => f.code === 'MALFORMED_JSON')).toMatchObject({ type: 'error' });
      ws.send(JSON.stringify({ op: 'subscribe', channel: 'orders' }));
      expect(await next((f) => f.code === 'UNAUTHENTICATED')).toMatchObject({
        type: 'error',
        channel: 'orders',
      });

      const ts = Date.now();
      ws.send(
        JSON.stringify({
          op: 'auth',
          apiKey: keyA.keyId,
          timestamp: ts,
          signature: signRequest(keyA.secret, ts, 'GET', STREAM_PATH, ''),
        }),
      );
      expect(await next((f) => f.type === 'authenticated')).toEqual({
        type: 'authenticated',
        accountId: ACCOUNT_A,
      });
      // The own-orders channel (ADR 0014): a snapshot from the database with the account's stream
      // seq, then the account's records of account.events.v1 in decimals; a repeat is dropped, a
      // gap answered with a fresh snapshot.
      await db.query(
        `INSERT INTO account_stream_seq (account_id, seq) VALUES ($1, 7)
         ON CONFLICT (account_id) DO UPDATE SET seq = 7`,
        [ACCOUNT_A],
      );
      ws.send(JSON.stringify({ op: 'subscribe', channel: 'orders' }));
      const snapshot = await next((f) => f.type === 'snapshot' && f.channel === 'orders');
      expect(snapshot).toMatchObject({
        seq: 7,
        data: { orders: expect.any(Array), balances: expect.any(Array) },
      });
      const producer = kafka.producer();
      await producer.connect();
      const event = (accountId: string, seq: number, data: unknown) => ({
        key: accountId,
        value: JSON.stringify({ accountId, seq, data }),
        partition: partitionFor(accountId, config.KAFKA_PARTITIONS),
      });
      const update = {
        type: 'order',
        orderId: placedOrderId,
        symbol: SYMBOL,
        status: 'new',
        reason: null,
        qty: 5000,
        filledQty: 0,
        lastSeq: 1,
      };
      await producer.send({
        topic: TOPICS.accountEvents.name,
        messages: [
          event(ACCOUNT_B, 8, { other: true }),
          event(ACCOUNT_A, 7, {
            type: 'order',
            orderId: 'stale',
            symbol: SYMBOL,
            status: 'new',
            reason: null,
          }),
          event(ACCOUNT_A, 8, update),
          event(ACCOUNT_A, 8, update),
          event(ACCOUNT_A, 9, { type: 'balance', asset: 'USDT', available: '1500000', held: '250' }),
          event(ACCOUNT_A, 11, { type: 'balance', asset: 'USDT', available: '1', held: '0' }),
        ],
      });
      await producer.disconnect();
      expect(await next((f) => f.type === 'update' && f.channel === 'orders')).toEqual({
        type: 'update',
        channel: 'orders',
        seq: 8,
        data: {
          type: 'order',
          orderId: placedOrderId,
          symbol: SYMBOL,
          status: 'new',
          reason: null,
          quantity: '0.5',
          filledQuantity: '0',
        },
      });
      expect(await next((f) => f.type === 'update' && f.seq === 9)).toMatchObject({
        data: { type: 'balance', asset: 'USDT', available: '1.5', held: '0.00025' },
      });
      // 11 after 9: a gap, so a fresh snapshot (at the database's seq) instead of the update.
      await next((f) => f.type === 'snapshot' && f.channel === 'orders' && f !== snapshot);
      const orderFrames = frames.filter((f) => f.channel === 'orders' && f.type !== 'error');
      expect(orderFrames.map((f) => [f.type, f.seq])).toEqual([
        ['snapshot', 7],
        ['update', 8],
        ['update', 9],
        ['snapshot', 7],
      ]);
      expect(ws.readyState).toBe(1);
      expect(frames.filter((f) => JSON.stringify(f).includes('"other"'))).toEqual([]);
    } finally {
      ws.close();
    }
  });
});
