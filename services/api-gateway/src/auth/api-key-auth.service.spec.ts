import { randomBytes } from 'node:crypto';
import type { ApiKeyRow, ApiKeysRepository } from '@trading/db';
import type { DatabaseService, RedisService } from '@trading/nest-common';
import type { ApiGatewayConfig } from '../api-gateway.config';
import { ErrorCode, GatewayException } from '../errors/gateway.exception';
import { ApiKeyAuthService, type SignedRequest } from './api-key-auth.service';
import { SecretCipher } from './secret.cipher';
import { signRequest } from './signature';

const NOW = 1_700_000_000_000;
const SECRET = 'a'.repeat(64);

function setup() {
  const cipher = new SecretCipher(randomBytes(32));
  const rows = new Map<string, ApiKeyRow>([
    [
      'ak_live',
      {
        keyId: 'ak_live',
        accountId: 'acct-1',
        secretEnc: cipher.encrypt(SECRET, 'ak_live'),
        label: '',
        createdAt: new Date(),
        revokedAt: null,
      },
    ],
  ]);
  const findActive = jest.fn((id: string) => Promise.resolve(rows.get(id) ?? null));
  const repo = { findActive } as unknown as ApiKeysRepository;
  const db = { dataSource: { isInitialized: true } } as unknown as DatabaseService;
  const config = {
    SIGNATURE_WINDOW_MS: 5000,
    API_KEY_CACHE_TTL_MS: 30_000,
    RATE_LIMIT_PER_KEY: 3,
  } as ApiGatewayConfig;
  // The key windows and nonces as the Redis script keeps them (the integration tests use the
  // real one): a used nonce counts nothing, a key over its limit claims nothing.
  const used = new Set<string>();
  const windows = new Map<string, number>();
  const keyWindow = jest.fn(
    (window: string, nonce: string, _ttl: number, _nonceTtl: number, limit: number) => {
      if (used.has(nonce)) return Promise.resolve([0, 0]);
      const n = (windows.get(window) ?? 0) + 1;
      windows.set(window, n);
      if (n > limit) return Promise.resolve([n, -1]);
      used.add(nonce);
      return Promise.resolve([n, 1]);
    },
  );
  const redis = { redis: { status: 'ready', ipWindow: jest.fn(), keyWindow } } as unknown as RedisService;
  return {
    service: new ApiKeyAuthService(db, repo, cipher, config, redis),
    findActive,
    rows,
    used,
    windows,
    keyWindow,
  };
}

function signed(overrides: Partial<SignedRequest> = {}, ts = NOW): SignedRequest {
  const body = '{"symbol":"BTC-USDT"}';
  return {
    apiKey: 'ak_live',
    timestamp: String(ts),
    signature: signRequest(SECRET, ts, 'POST', '/v1/orders?x=1', body),
    method: 'POST',
    pathWithQuery: '/v1/orders?x=1',
    body,
    ...overrides,
  };
}

async function codeOf(p: Promise<unknown>): Promise<ErrorCode> {
  try {
    await p;
  } catch (err) {
    if (err instanceof GatewayException) return err.code;
    throw err;
  }
  throw new Error('expected a rejection');
}

describe('signed request authentication', () => {
  it('admits a correctly signed request and names its account', async () => {
    const { service } = setup();
    await expect(service.authenticate(signed(), NOW + 1000)).resolves.toEqual({
      accountId: 'acct-1',
      keyId: 'ak_live',
    });
  });

  it('refuses a signature over a different body, path or method', async () => {
    const { service } = setup();
    expect(await codeOf(service.authenticate(signed({ body: '{"symbol":"ETH-USDT"}' }), NOW))).toBe(
      ErrorCode.BAD_SIGNATURE,
    );
    expect(await codeOf(service.authenticate(signed({ pathWithQuery: '/v1/orders' }), NOW))).toBe(
      ErrorCode.BAD_SIGNATURE,
    );
    expect(await codeOf(service.authenticate(signed({ method: 'DELETE' }), NOW))).toBe(
      ErrorCode.BAD_SIGNATURE,
    );
    expect(await codeOf(service.authenticate(signed({ signature: 'zz' }), NOW))).toBe(
      ErrorCode.BAD_SIGNATURE,
    );
  });

  it('refuses a timestamp outside the window on either side, before any lookup', async () => {
    const { service, findActive } = setup();
    expect(await codeOf(service.authenticate(signed({}, NOW - 5001), NOW))).toBe(ErrorCode.STALE_TIMESTAMP);
    expect(await codeOf(service.authenticate(signed({}, NOW + 5001), NOW))).toBe(ErrorCode.STALE_TIMESTAMP);
    expect(await codeOf(service.authenticate(signed({ timestamp: 'yesterday' }), NOW))).toBe(
      ErrorCode.STALE_TIMESTAMP,
    );
    expect(findActive).not.toHaveBeenCalled();
  });

  it('refuses unknown keys and missing headers', async () => {
    const { service } = setup();
    expect(await codeOf(service.authenticate(signed({ apiKey: 'ak_nope' }), NOW))).toBe(
      ErrorCode.INVALID_API_KEY,
    );
    expect(await codeOf(service.authenticate(signed({ apiKey: '../../etc' }), NOW))).toBe(
      ErrorCode.INVALID_API_KEY,
    );
    expect(await codeOf(service.authenticate(signed({ signature: undefined }), NOW))).toBe(
      ErrorCode.UNAUTHENTICATED,
    );
  });

  it('serves the secret from memory within the TTL, then reloads (a revoked key stops working)', async () => {
    const { service, findActive, rows } = setup();
    await service.authenticate(signed(), NOW);
    await service.authenticate(signed({}, NOW + 1000), NOW + 1000);
    expect(findActive).toHaveBeenCalledTimes(1);
    rows.delete('ak_live');
    const later = NOW + 31_000;
    expect(await codeOf(service.authenticate(signed({}, later), later))).toBe(ErrorCode.INVALID_API_KEY);
    expect(findActive).toHaveBeenCalledTimes(2);
  });

  it('refuses the same signed request twice (replay), while a new signature passes', async () => {
    const { service } = setup();
    await service.authenticate(signed(), NOW);
    expect(await codeOf(service.authenticate(signed(), NOW + 10))).toBe(ErrorCode.REPLAYED_REQUEST);
    await expect(service.authenticate(signed({}, NOW + 1), NOW + 10)).resolves.toEqual({
      accountId: 'acct-1',
      keyId: 'ak_live',
    });
  });

  it('treats case variants of a signature as the same nonce, so re-cased hex is a replay', async () => {
    const { service } = setup();
    const sig = signed().signature!;
    await service.authenticate(signed(), NOW);
    for (const variant of [
      sig.toUpperCase(),
      sig.replace(/[a-f]/, (c) => c.toUpperCase()),
      sig.replace(/[a-f]/g, (c, i: number) => (i % 2 ? c.toUpperCase() : c)),
    ]) {
      expect(variant).not.toBe(sig);
      expect(await codeOf(service.authenticate(signed({ signature: variant }), NOW))).toBe(
        ErrorCode.REPLAYED_REQUEST,
      );
    }
    // Upper-case hex is still a valid signature; its lower-case twin is then the replay.
    const other = signed({}, NOW + 1);
    await service.authenticate({ ...other, signature: other.signature!.toUpperCase() }, NOW + 1);
    expect(await codeOf(service.authenticate(other, NOW + 1))).toBe(ErrorCode.REPLAYED_REQUEST);
  });

  it('counts only verified requests against the key, and claims no nonce beyond its limit', async () => {
    const { service, windows, keyWindow } = setup();
    // Forged, stale, unknown: refused without touching the key's window.
    for (let i = 0; i < 5; i++) {
      expect(await codeOf(service.authenticate(signed({ body: `{"forged":${i}}` }), NOW))).toBe(
        ErrorCode.BAD_SIGNATURE,
      );
      expect(await codeOf(service.authenticate(signed({ signature: 'f'.repeat(64) }), NOW))).toBe(
        ErrorCode.BAD_SIGNATURE,
      );
    }
    expect(keyWindow).not.toHaveBeenCalled();
    expect(windows.size).toBe(0);
    // The limit is 3 a second: the verified ones count, with what is left.
    const admitted = [];
    for (let i = 0; i < 3; i++) admitted.push(await service.admit(signed({}, NOW + i), NOW + i));
    expect(admitted.map((a) => [a.account.accountId, a.limit, a.remaining])).toEqual([
      ['acct-1', 3, 2],
      ['acct-1', 3, 1],
      ['acct-1', 3, 0],
    ]);
    // A replay is refused as such and spends nothing.
    expect(await codeOf(service.authenticate(signed({}, NOW), NOW + 3))).toBe(ErrorCode.REPLAYED_REQUEST);
    const fourth = signed({}, NOW + 3);
    expect(await codeOf(service.authenticate(fourth, NOW + 3))).toBe(ErrorCode.RATE_LIMITED);
    // Refused with 429, its nonce unclaimed: the same request is admitted in the next second.
    await expect(service.authenticate(fourth, NOW + 1000)).resolves.toEqual({
      accountId: 'acct-1',
      keyId: 'ak_live',
    });
  });
});
