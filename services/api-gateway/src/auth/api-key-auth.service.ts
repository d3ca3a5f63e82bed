import { createSecretKey, type KeyObject, randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { canonicalRequest } from '@trading/contracts';
import { ApiKeysRepository } from '@trading/db';
import { DatabaseService, RedisService } from '@trading/nest-common';
import { type ApiGatewayConfig, GATEWAY_CONFIG } from '../api-gateway.config';
import { dbCall, redisCall } from '../common/dependency-call';
import { GatewayMetrics } from '../common/gateway.metrics';
import { countKeyWindow } from '../common/rate-windows';
import { ErrorCode, GatewayException } from '../errors/gateway.exception';
import { SecretCipher } from './secret.cipher';
import { signatureMatches, timestampFresh } from './signature';

export interface AuthenticatedAccount {
  accountId: string;
  keyId: string;
}

export interface SignedRequest {
  apiKey: string | undefined;
  timestamp: string | undefined;
  signature: string | undefined;
  method: string;
  pathWithQuery: string;
  body: string;
}

/** A verified request: its account, and its API key's rate window after it. */
export interface Admission {
  account: AuthenticatedAccount;
  /** RATE_LIMIT_PER_KEY, and what is left of it in this second. */
  limit: number;
  remaining: number;
}

/** 429 for an API key over its per-second limit (only verified requests count against a key). */
export class KeyRateLimitedError extends GatewayException {
  constructor(readonly limit: number) {
    super(
      ErrorCode.RATE_LIMITED,
      `rate limit of ${limit} requests per second per key exceeded`,
      undefined,
      1,
    );
    this.name = 'KeyRateLimitedError';
  }
}

/**
 * The Redis key that makes a signature single-use. The signature is hex, accepted in either case:
 * the nonce is its lower-case form, so a re-cased copy of a used signature is the same nonce.
 */
export const nonceKey = (apiKey: string, signature: string): string =>
  `sig:${apiKey}:${signature.toLowerCase()}`;

type CacheEntry =
  // The secret as a KeyObject: HMAC with it skips importing the key string on every request.
  { expires: number; accountId: string; secret: KeyObject } | { expires: number; accountId: null };

// Unknown key ids are remembered briefly too, so random ids cannot hammer the database.
const NEGATIVE_TTL_MS = 5000;
const MAX_CACHE_ENTRIES = 10_000;
const KEY_ID = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * Verifies HMAC-signed requests. Decrypted secrets are cached for API_KEY_CACHE_TTL_MS so the hot
 * path does not touch the database; a revoked key stops working within that time. Secrets are
 * never logged or put into an error.
 */
@Injectable()
export class ApiKeyAuthService {
  private readonly logger = new Logger(ApiKeyAuthService.name);
  private readonly cache = new Map<string, CacheEntry>();
  private readonly loading = new Map<string, Promise<CacheEntry>>();

  constructor(
    private readonly db: DatabaseService,
    private readonly repo: ApiKeysRepository,
    private readonly cipher: SecretCipher,
    @Inject(GATEWAY_CONFIG) private readonly config: ApiGatewayConfig,
    private readonly redis: RedisService,
    @Optional() private readonly metrics?: GatewayMetrics,
  ) {}

  /** The account of a verified request (see admit). */
  async authenticate(req: SignedRequest, now = Date.now()): Promise<AuthenticatedAccount> {
    return (await this.admit(req, now)).account;
  }

  /**
   * Verifies a signed request, then, and only then, counts it against its API key's per-second
   * limit and claims its signature as a nonce (one Redis script). A request that fails
   * verification never touches the key's budget: it was counted per client IP at admission.
   */
  async admit(req: SignedRequest, now = Date.now()): Promise<Admission> {
    const { apiKey, timestamp, signature } = req;
    if (!apiKey || !timestamp || !signature) {
      throw new GatewayException(
        ErrorCode.UNAUTHENTICATED,
        'X-API-KEY, X-API-TIMESTAMP and X-API-SIGNATURE are required',
      );
    }
    // The cheap checks first: a stale request never costs a lookup.
    if (!timestampFresh(timestamp, now, this.config.SIGNATURE_WINDOW_MS)) {
      throw new GatewayException(
        ErrorCode.STALE_TIMESTAMP,
        `X-API-TIMESTAMP must be epoch milliseconds within ${this.config.SIGNATURE_WINDOW_MS} ms of server time`,
      );
    }
    const canonical = canonicalRequest(timestamp, req.method, req.pathWithQuery, req.body);
    return this.admitCanonical(apiKey, signature, canonical, this.config.SIGNATURE_WINDOW_MS * 2, now);
  }

  /**
   * The verification every signed request ends with, whatever its dialect built `canonical` from:
   * the key is active, the hex signature is HMAC-SHA256(secret, canonical), and only then the
   * request counts against the key's per-second limit and claims its signature as a nonce for
   * `nonceTtlMs` (longer than the timestamp could still pass its window). The caller has checked
   * the timestamp; /v1 (admit) and the Binance dialect (/api/v3) share this.
   */
  async admitCanonical(
    apiKey: string,
    signature: string,
    canonical: string,
    nonceTtlMs: number,
    now = Date.now(),
  ): Promise<Admission> {
    const entry = KEY_ID.test(apiKey) ? await this.lookup(apiKey, now) : null;
    if (!entry || entry.accountId === null)
      throw new GatewayException(ErrorCode.INVALID_API_KEY, 'unknown or revoked API key');
    if (!signatureMatches(entry.secret, canonical, signature)) {
      throw new GatewayException(ErrorCode.BAD_SIGNATURE, 'signature does not match the request');
    }
    // A signature is a nonce: the same signed request a second time (a replay) is refused while
    // its timestamp could still pass the window. Claimed only when the key is within its limit.
    const limit = this.config.RATE_LIMIT_PER_KEY;
    const { used, nonce } = await redisCall(this.redis.redis, () =>
      countKeyWindow(this.redis.redis, apiKey, nonceKey(apiKey, signature), nonceTtlMs, limit, now),
    );
    if (nonce === 'replayed')
      throw new GatewayException(ErrorCode.REPLAYED_REQUEST, 'this signed request was already used');
    if (nonce === 'limited') {
      this.metrics?.shed.inc({ reason: 'rate_key' });
      throw new KeyRateLimitedError(limit);
    }
    return {
      account: { accountId: entry.accountId, keyId: apiKey },
      limit,
      remaining: Math.max(0, limit - used),
    };
  }

  /**
   * A request that carries only its API key, no signature (Binance's USER_STREAM endpoints:
   * POST/PUT/DELETE /api/v3/userDataStream): the key is active, and the request counts against
   * its per-second limit like a signed one.
   */
  async admitKey(apiKey: string, now = Date.now()): Promise<Admission> {
    const entry = KEY_ID.test(apiKey) ? await this.lookup(apiKey, now) : null;
    if (!entry || entry.accountId === null)
      throw new GatewayException(ErrorCode.INVALID_API_KEY, 'unknown or revoked API key');
    const limit = this.config.RATE_LIMIT_PER_KEY;
    // No signature to claim: a fresh nonce, so only the key's window counts.
    const { used, nonce } = await redisCall(this.redis.redis, () =>
      countKeyWindow(this.redis.redis, apiKey, `keyonly:${apiKey}:${randomUUID()}`, 1, limit, now),
    );
    if (nonce === 'limited') {
      this.metrics?.shed.inc({ reason: 'rate_key' });
      throw new KeyRateLimitedError(limit);
    }
    return {
      account: { accountId: entry.accountId, keyId: apiKey },
      limit,
      remaining: Math.max(0, limit - used),
    };
  }

  /**
   * The account of an active key, null for an unknown or revoked one (cached as every lookup: a
   * revocation shows within API_KEY_CACHE_TTL_MS). Counts nothing: for what a key was already
   * admitted to (a listenKey stream re-checking its key).
   */
  async activeAccountOf(apiKey: string, now = Date.now()): Promise<string | null> {
    const entry = KEY_ID.test(apiKey) ? await this.lookup(apiKey, now) : null;
    return entry?.accountId ?? null;
  }

  /** Forgets cached secrets (after a revocation, or in tests). */
  invalidate(keyId?: string): void {
    if (keyId === undefined) this.cache.clear();
    else this.cache.delete(keyId);
  }

  private async lookup(keyId: string, now: number): Promise<CacheEntry> {
    const cached = this.cache.get(keyId);
    if (cached && cached.expires > now) return cached;
    // Concurrent misses for one key share one query.
    let pending = this.loading.get(keyId);
    if (!pending) {
      pending = this.load(keyId, now).finally(() => this.loading.delete(keyId));
      this.loading.set(keyId, pending);
    }
    return pending;
  }

  private async load(keyId: string, now: number): Promise<CacheEntry> {
    const row = await dbCall(this.db.dataSource, () => this.repo.findActive(keyId));
    let entry: CacheEntry;
    if (!row) {
      entry = { expires: now + NEGATIVE_TTL_MS, accountId: null };
    } else {
      try {
        entry = {
          expires: now + this.config.API_KEY_CACHE_TTL_MS,
          accountId: row.accountId,
          secret: createSecretKey(Buffer.from(this.cipher.decrypt(row.secretEnc, keyId), 'utf8')),
        };
      } catch {
        // Wrong platform key or a tampered row: the key cannot be used. Never log the blob.
        this.logger.error(`API key ${keyId} cannot be decrypted with the configured API_KEY_ENCRYPTION_KEY`);
        entry = { expires: now + NEGATIVE_TTL_MS, accountId: null };
      }
    }
    if (this.cache.size >= MAX_CACHE_ENTRIES) {
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
    this.cache.set(keyId, entry);
    return entry;
  }
}
