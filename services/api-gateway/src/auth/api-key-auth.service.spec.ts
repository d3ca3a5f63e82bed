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
  const config = { SIGNATURE_WINDOW_MS: 5000, API_KEY_CACHE_TTL_MS: 30_000 } as ApiGatewayConfig;
  // The nonce store (Redis SET NX in production; the integration tests use the real one).
  const used = new Set<string>();
  const redis = {
    redis: {
      status: 'ready',
      set: jest.fn((key: string) => Promise.resolve(used.has(key) ? null : (used.add(key), 'OK'))),
    },
  } as unknown as RedisService;
  return {
    service: new ApiKeyAuthService(db, repo, cipher, config, redis),
    findActive,
    rows,
    used,
    nonceSets: (redis.redis as unknown as { set: jest.Mock }).set,
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

  it('trusts a nonce claimed at admission, after checking the signature, and asks Redis only without one', async () => {
    const { service, nonceSets } = setup();
    await expect(service.authenticate(signed({ nonce: 'fresh' }), NOW)).resolves.toEqual({
      accountId: 'acct-1',
      keyId: 'ak_live',
    });
    expect(nonceSets).not.toHaveBeenCalled();
    expect(await codeOf(service.authenticate(signed({ nonce: 'replayed' }), NOW))).toBe(
      ErrorCode.REPLAYED_REQUEST,
    );
    // A forged signature is refused as such whatever admission said about its nonce.
    expect(
      await codeOf(service.authenticate(signed({ nonce: 'replayed', body: '{"tampered":true}' }), NOW)),
    ).toBe(ErrorCode.BAD_SIGNATURE);
    expect(nonceSets).not.toHaveBeenCalled();
    await service.authenticate(signed({}, NOW + 1), NOW + 1);
    expect(nonceSets).toHaveBeenCalledTimes(1);
  });
});
