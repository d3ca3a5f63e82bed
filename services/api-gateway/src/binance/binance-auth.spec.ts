import { createHmac, randomBytes } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import type { ApiKeyRow, ApiKeysRepository } from '@trading/db';
import type { DatabaseService, RedisService } from '@trading/nest-common';
import type { ApiGatewayConfig } from '../api-gateway.config';
import { ApiKeyAuthService } from '../auth/api-key-auth.service';
import { SecretCipher } from '../auth/secret.cipher';
import { BinanceCode, BinanceError } from './binance.errors';
import { admitBinance, type BinanceRequest, signedPayload, timestampWithin } from './binance-auth';

// Binance's own example (SIGNED endpoint security): its key, secret and signatures.
const SECRET = 'NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j';
const TS = 1_499_827_319_559;

function setup(limit = 10) {
  const cipher = new SecretCipher(randomBytes(32));
  const row: ApiKeyRow = {
    keyId: 'ak_binance',
    accountId: 'acct-b',
    secretEnc: cipher.encrypt(SECRET, 'ak_binance'),
    label: '',
    createdAt: new Date(),
    revokedAt: null,
  };
  const findActive = jest.fn((id: string) => Promise.resolve(id === row.keyId ? row : null));
  const repo = { findActive } as unknown as ApiKeysRepository;
  const db = { dataSource: { isInitialized: true } } as unknown as DatabaseService;
  const config = {
    SIGNATURE_WINDOW_MS: 5000,
    API_KEY_CACHE_TTL_MS: 30_000,
    RATE_LIMIT_PER_KEY: limit,
  } as ApiGatewayConfig;
  const used = new Set<string>();
  const nonceTtls: number[] = [];
  let count = 0;
  const keyWindow = jest.fn((_w: string, nonce: string, _ttl: number, nonceTtl: number, max: number) => {
    if (used.has(nonce)) return Promise.resolve([0, 0]);
    count++;
    if (count > max) return Promise.resolve([count, -1]);
    used.add(nonce);
    nonceTtls.push(nonceTtl);
    return Promise.resolve([count, 1]);
  });
  const redis = { redis: { status: 'ready', ipWindow: jest.fn(), keyWindow } } as unknown as RedisService;
  return { auth: new ApiKeyAuthService(db, repo, cipher, config, redis), findActive, keyWindow, nonceTtls };
}

const sign = (payload: string) => createHmac('sha256', SECRET).update(payload).digest('hex');

function request(query: string, body = '', key: string | null = 'ak_binance'): BinanceRequest {
  const url = `/api/v3/order${query ? `?${query}` : ''}`;
  return {
    url,
    raw: { url },
    headers: key === null ? {} : { 'x-mbx-apikey': key },
    formBody: body || undefined,
  } as unknown as BinanceRequest;
}

function reply() {
  const headers: Record<string, string> = {};
  const r = {
    headers,
    header(name: string, value: string) {
      headers[name] = value;
      return r;
    },
  };
  return r;
}

async function codeOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (err) {
    if (err instanceof BinanceError) return err.code;
    throw err;
  }
  throw new Error('expected a BinanceError');
}

describe('Binance request signing', () => {
  const query = 'symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC';
  const body = `quantity=1&price=0.1&recvWindow=5000&timestamp=${TS}`;

  it("covers the query string followed by the form body, as Binance's examples sign them", () => {
    expect(sign(signedPayload(`/api/v3/order?${query}&${body}&signature=x`, ''))).toBe(
      'c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71',
    );
    expect(sign(signedPayload(`/api/v3/order?${query}`, `${body}&signature=x`))).toBe(
      '0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77',
    );
  });

  it('admits a correctly signed request with the platform key, query and body mixed', async () => {
    const { auth, nonceTtls } = setup();
    const sig = '0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77';
    const r = reply();
    const account = await admitBinance(
      auth,
      request(query, `${body}&signature=${sig}`),
      r as unknown as FastifyReply,
      TS + 100,
    );
    expect(account).toEqual({ accountId: 'acct-b', keyId: 'ak_binance' });
    expect(r.headers).toEqual({ 'x-ratelimit-limit': '10', 'x-ratelimit-remaining': '9' });
    // Single-use for as long as the timestamp can pass: recvWindow + 1 s ahead + margin.
    expect(nonceTtls).toEqual([7000]);
  });

  it('applies recvWindow as Binance does: at most 1 s ahead, at most recvWindow behind', () => {
    expect(timestampWithin(TS, 5000, TS + 5000)).toBe(true);
    expect(timestampWithin(TS, 5000, TS + 5001)).toBe(false);
    expect(timestampWithin(TS + 999, 5000, TS)).toBe(true);
    expect(timestampWithin(TS + 1000, 5000, TS)).toBe(false);
  });

  it('refuses each fault with its code, before any key lookup when it can', async () => {
    const { auth, findActive, keyWindow } = setup();
    const signedQuery = (q: string) => `${q}&signature=${sign(q)}`;
    const ok = `symbol=BTCUSDT&timestamp=${TS}`;
    const r = reply() as unknown as FastifyReply;
    expect(await codeOf(admitBinance(auth, request(signedQuery(ok), '', null), r, TS))).toBe(
      BinanceCode.BAD_API_KEY_FMT,
    );
    expect(await codeOf(admitBinance(auth, request(signedQuery('symbol=BTCUSDT')), r, TS))).toBe(
      BinanceCode.MANDATORY_PARAM_EMPTY_OR_MALFORMED,
    );
    expect(await codeOf(admitBinance(auth, request(signedQuery(ok)), r, TS + 5001))).toBe(
      BinanceCode.INVALID_TIMESTAMP,
    );
    expect(await codeOf(admitBinance(auth, request(signedQuery(`${ok}&recvWindow=60001`)), r, TS))).toBe(
      BinanceCode.BAD_RECV_WINDOW,
    );
    expect(await codeOf(admitBinance(auth, request(ok), r, TS))).toBe(
      BinanceCode.MANDATORY_PARAM_EMPTY_OR_MALFORMED,
    );
    expect(findActive).not.toHaveBeenCalled();
    expect(await codeOf(admitBinance(auth, request(signedQuery(ok), '', 'ak_nope'), r, TS))).toBe(
      BinanceCode.REJECTED_MBX_KEY,
    );
    expect(await codeOf(admitBinance(auth, request(`${ok}&symbol2=x&signature=${sign(ok)}`), r, TS))).toBe(
      BinanceCode.INVALID_SIGNATURE,
    );
    expect(keyWindow).not.toHaveBeenCalled();
    // A wider recvWindow admits an older timestamp.
    const wide = `${ok}&recvWindow=60000`;
    await expect(admitBinance(auth, request(signedQuery(wide)), r, TS + 59_000)).resolves.toMatchObject({
      accountId: 'acct-b',
    });
  });

  it('makes a signature single-use and counts only verified requests against the key', async () => {
    const { auth } = setup(2);
    const r = reply() as unknown as FastifyReply;
    const q = (n: number) => `symbol=BTCUSDT&timestamp=${TS + n}`;
    const signedQuery = (s: string) => `${s}&signature=${sign(s)}`;
    await admitBinance(auth, request(signedQuery(q(0))), r, TS);
    expect(await codeOf(admitBinance(auth, request(signedQuery(q(0))), r, TS + 1))).toBe(
      BinanceCode.INVALID_TIMESTAMP,
    );
    await admitBinance(auth, request(signedQuery(q(1))), r, TS + 1);
    const limited = reply();
    expect(
      await codeOf(
        admitBinance(auth, request(signedQuery(q(2))), limited as unknown as FastifyReply, TS + 2),
      ),
    ).toBe(BinanceCode.TOO_MANY_REQUESTS);
    expect(limited.headers).toEqual({
      'x-ratelimit-limit': '2',
      'x-ratelimit-remaining': '0',
      'x-ratelimit-scope': 'key',
    });
  });
});
