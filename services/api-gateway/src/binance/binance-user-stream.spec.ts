import { sampleMarketSpec, type StreamMessage } from '@trading/contracts';
import type { OrderRow } from '@trading/db';
import type { RedisService } from '@trading/nest-common';
import type Redis from 'ioredis';
import type { ExecutionContext } from '@nestjs/common';
import { type ApiKeyAuthService, KeyRateLimitedError } from '../auth/api-key-auth.service';
import { ErrorCode, GatewayException } from '../errors/gateway.exception';
import type { StreamHub } from '../stream/stream-hub.service';
import { WS_OPEN, type WsClient } from '../stream/stream-message.schema';
import { BinanceError } from './binance.errors';
import type { BinanceRequest } from './binance-auth';
import { BinanceApiKeyGuard, LISTEN_KEY_TTL_MS, ListenKeyStore, newListenKey } from './binance-user-stream';
import { BinanceWsSession, type UserDataDeps } from './binance-ws.session';
import { sampleOrderRow } from './order-row.fixture';

const market = sampleMarketSpec();

/** The few Redis commands ListenKeyStore uses, in memory, with expiry by a clock the test moves. */
function memoryRedis() {
  const values = new Map<string, { v: string; until: number }>();
  let now = 0;
  const live = (k: string) => {
    const e = values.get(k);
    if (e && e.until <= now) values.delete(k);
    return values.get(k);
  };
  const redis = {
    status: 'ready',
    get: async (k: string) => live(k)?.v ?? null,
    set: async (k: string, v: string, _px: 'PX', ms: number, xx?: 'XX') => {
      if (xx && !live(k)) return null;
      values.set(k, { v, until: now + ms });
      return 'OK';
    },
    pexpire: async (k: string, ms: number) => {
      const e = live(k);
      if (!e) return 0;
      e.until = now + ms;
      return 1;
    },
    pttl: async (k: string) => {
      const e = live(k);
      return e ? e.until - now : -2;
    },
    del: async (k: string) => (values.delete(k) ? 1 : 0),
    multi() {
      const ops: (() => Promise<unknown>)[] = [];
      const chain = {
        set: (k: string, v: string, px: 'PX', ms: number) => (ops.push(() => redis.set(k, v, px, ms)), chain),
        pexpire: (k: string, ms: number) => (ops.push(() => redis.pexpire(k, ms)), chain),
        exec: async () => Promise.all(ops.map((op) => op())),
      };
      return chain;
    },
  };
  return { redis, advance: (ms: number) => (now += ms) };
}

const codeOf = async (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (err: unknown) => (err instanceof BinanceError ? [err.code, err.msg] : String(err)),
  );

describe('listenKeys', () => {
  const alice = { accountId: 'alice', keyId: 'ak_a' };
  const bob = { accountId: 'bob', keyId: 'ak_b' };

  it('newListenKey: 64 letters and digits, never the same twice', () => {
    const keys = new Set(Array.from({ length: 200 }, () => newListenKey()));
    expect(keys.size).toBe(200);
    for (const k of keys) expect(k).toMatch(/^[A-Za-z0-9]{64}$/);
  });

  it('ListenKeyStore: one per account, 60 minutes, kept alive by PUT, closed by DELETE, -1125 for another account or after expiry', async () => {
    const { redis, advance } = memoryRedis();
    const store = new ListenKeyStore({ redis: redis as unknown as Redis } as RedisService);
    const key = await store.create(alice);
    expect(await store.owner(key)).toEqual(alice);
    expect(await store.remainingMs(key)).toBe(LISTEN_KEY_TTL_MS);
    advance(10 * 60_000);
    // A second POST answers the same key, extended, held by the key that asked.
    expect(await store.create(alice)).toBe(key);
    expect(await store.remainingMs(key)).toBe(LISTEN_KEY_TTL_MS);
    expect(await store.create({ ...alice, keyId: 'ak_a2' })).toBe(key);
    expect(await store.owner(key)).toEqual({ ...alice, keyId: 'ak_a2' });
    await store.create(alice);
    const notFound = [-1125, 'This listenKey does not exist.'];
    expect(await codeOf(store.keepalive(bob, key))).toEqual(notFound);
    expect(await codeOf(store.close(bob, key))).toEqual(notFound);
    expect(await codeOf(store.keepalive(alice, 'x'.repeat(64)))).toEqual(notFound);
    expect(await codeOf(store.keepalive(alice, 'not a key'))).toEqual(notFound);
    advance(59 * 60_000);
    await store.keepalive(alice, key);
    advance(59 * 60_000);
    expect(await store.owner(key)).toEqual(alice);
    advance(60_001);
    expect(await store.owner(key)).toBeNull();
    expect(await codeOf(store.keepalive(alice, key))).toEqual(notFound);
    // Expired: a new one.
    const next = await store.create(alice);
    expect(next).not.toBe(key);
    await store.close(alice, next);
    expect(await store.remainingMs(next)).toBe(0);
    expect(await codeOf(store.close(alice, next))).toEqual(notFound);
  });
});

describe('BinanceApiKeyGuard (USER_STREAM: X-MBX-APIKEY only)', () => {
  const auth = {
    admitKey: async (apiKey: string) => {
      if (apiKey === 'ak_limited') throw new KeyRateLimitedError(10);
      if (apiKey !== 'ak_good')
        throw new GatewayException(ErrorCode.INVALID_API_KEY, 'unknown or revoked API key');
      return { account: { accountId: 'alice', keyId: 'ak_good' }, limit: 10, remaining: 9 };
    },
  } as unknown as ApiKeyAuthService;
  const run = async (headers: Record<string, string>) => {
    const req = { headers } as unknown as BinanceRequest;
    const replyHeaders: Record<string, string> = {};
    const reply = {
      header(k: string, v: string) {
        replyHeaders[k] = v;
        return reply;
      },
    };
    const context = {
      switchToHttp: () => ({ getRequest: () => req, getResponse: () => reply }),
    } as unknown as ExecutionContext;
    const outcome = await new BinanceApiKeyGuard(auth).canActivate(context).then(
      (ok) => ok,
      (err: unknown) => (err instanceof BinanceError ? [err.status, err.code, err.msg] : String(err)),
    );
    return { outcome, account: req.account, replyHeaders };
  };

  it('admits a known key without timestamp or signature; refuses no key (-2014), an unknown key (-2015), a key over its limit (-1003)', async () => {
    const ok = await run({ 'x-mbx-apikey': 'ak_good' });
    expect(ok).toEqual({
      outcome: true,
      account: { accountId: 'alice', keyId: 'ak_good' },
      replyHeaders: { 'x-ratelimit-limit': '10', 'x-ratelimit-remaining': '9' },
    });
    expect((await run({})).outcome).toEqual([401, -2014, 'API-key format invalid.']);
    expect((await run({ 'x-mbx-apikey': 'ak_nobody' })).outcome).toEqual([
      401,
      -2015,
      'Invalid API-key, IP, or permissions for action.',
    ]);
    const limited = await run({ 'x-mbx-apikey': 'ak_limited' });
    expect(limited.outcome).toEqual([429, -1003, expect.any(String)]);
    expect(limited.replyHeaders).toMatchObject({ 'x-ratelimit-remaining': '0', 'x-ratelimit-scope': 'key' });
    expect(limited.account).toBeUndefined();
  });
});

const row = (over: Partial<OrderRow> = {}): OrderRow => sampleOrderRow({ accountId: 'alice', ...over });

const LISTEN_KEY = 'L'.repeat(64);

/** A stream session whose listenKey store and account events the test controls. */
function harness(combined = false) {
  const frames: Record<string, unknown>[] = [];
  const closes: [number, string][] = [];
  const listeners = new Map<string, (m: StreamMessage) => void>();
  let remaining = 60_000;
  let gauge = 0;
  const client: WsClient = {
    readyState: WS_OPEN,
    bufferedAmount: 0,
    send: (data) => frames.push(JSON.parse(data) as Record<string, unknown>),
    close: (code?: number, reason?: string) => void closes.push([code ?? 0, reason ?? '']),
    terminate: () => undefined,
    on() {
      return this;
    },
  };
  const hub = {
    subscribe: async (channel: string, listener: (m: StreamMessage) => void) => {
      listeners.set(channel, listener);
      return () => listeners.delete(channel);
    },
  } as unknown as StreamHub;
  const userData: UserDataDeps = {
    owner: async (k) => (k === LISTEN_KEY && remaining > 0 ? { accountId: 'alice', keyId: 'ak_a' } : null),
    remainingMs: async () => remaining,
    checkMs: 20,
    events: {
      hub,
      findOrder: async (accountId, orderId) => (accountId === 'alice' ? row({ orderId }) : null),
      fillsOf: async () => [],
      balances: async () => [{ asset: 'USDT', available: '950', held: '50' }],
      market: async () => market,
    },
  };
  const session = new BinanceWsSession(
    client,
    {
      hub,
      redis: { get: async () => null } as unknown as Redis,
      market: () => undefined,
      klineSeed: async () => null,
      maxStreams: 3,
      onSubscriptionCount: (d) => (gauge += d),
      now: () => 7,
      userData,
    },
    combined,
  );
  const publishOrder = async (orderId: string) => {
    listeners.get('stream:orders:alice')?.({
      channel: 'orders:alice',
      seq: 1,
      data: { type: 'order', orderId },
    });
    await new Promise((r) => setTimeout(r, 10));
  };
  return {
    frames,
    closes,
    session,
    publishOrder,
    expire: () => (remaining = 0),
    gauge: () => gauge,
    subscribed: () => [...listeners.keys()],
  };
}

describe('BinanceWsSession with a listenKey (/ws/<listenKey>)', () => {
  it('an unknown or expired listenKey: -1125 "This listenKey does not exist." and the connection closed', async () => {
    const h = harness();
    h.expire();
    await h.session.open([LISTEN_KEY]);
    expect(h.frames).toEqual([{ error: { code: -1125, msg: 'This listenKey does not exist.' }, id: null }]);
    expect(h.closes).toEqual([[1008, 'listenKey does not exist']]);
    expect(h.subscribed()).toEqual([]);
  });

  it('delivers executionReport and outboundAccountPosition of the key’s account, then listenKeyExpired and the close when it expires', async () => {
    const h = harness();
    await h.session.open([LISTEN_KEY]);
    expect(h.subscribed()).toEqual(['stream:orders:alice']);
    expect(h.gauge()).toBe(1);
    await h.publishOrder('o-9');
    expect(h.frames.map((f) => f.e)).toEqual(['executionReport', 'outboundAccountPosition']);
    expect(h.frames[0]).toMatchObject({ s: 'BTCUSDT', x: 'NEW', X: 'NEW', S: 'BUY', o: 'LIMIT' });
    expect(h.frames[1]).toMatchObject({ B: [{ a: 'USDT', f: '950', l: '50' }] });
    h.frames.length = 0;
    h.expire();
    await new Promise((r) => setTimeout(r, 60));
    expect(h.frames).toEqual([{ e: 'listenKeyExpired', E: 7, listenKey: LISTEN_KEY }]);
    expect(h.closes).toEqual([[1000, 'listenKey expired']]);
    expect(h.subscribed()).toEqual([]);
    expect(h.gauge()).toBe(0);
  });

  it('in a combined stream (/stream?streams=<listenKey>) each event comes as {stream: listenKey, data}', async () => {
    const h = harness(true);
    await h.session.open([LISTEN_KEY]);
    await h.publishOrder('o-9');
    expect(h.frames.map((f) => [f.stream, (f.data as { e: string }).e])).toEqual([
      [LISTEN_KEY, 'executionReport'],
      [LISTEN_KEY, 'outboundAccountPosition'],
    ]);
    await h.session.onMessage(Buffer.from(JSON.stringify({ method: 'LIST_SUBSCRIPTIONS', id: 1 })));
    expect(h.frames.at(-1)).toEqual({ result: [LISTEN_KEY], id: 1 });
    h.session.close();
    expect(h.subscribed()).toEqual([]);
    expect(h.gauge()).toBe(0);
  });
});
