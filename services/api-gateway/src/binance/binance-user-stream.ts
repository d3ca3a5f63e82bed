import { randomBytes } from 'node:crypto';
import {
  type CanActivate,
  Controller,
  Delete,
  type ExecutionContext,
  HttpCode,
  Injectable,
  Post,
  Put,
  Req,
  UseFilters,
  UseGuards,
} from '@nestjs/common';
import { ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import type Redis from 'ioredis';
import { OrderQueriesRepository } from '@trading/db';
import { DatabaseService, RedisService } from '@trading/nest-common';
import {
  type AuthenticatedAccount,
  ApiKeyAuthService,
  KeyRateLimitedError,
} from '../auth/api-key-auth.service';
import { header } from '../auth/api-key.guard';
import { redisCall } from '../common/dependency-call';
import { BINANCE_SIGNED } from '../common/openapi';
import { MarketLookupService } from '../markets/market-lookup.service';
import { BalancesService } from '../money/balances.service';
import { StreamHub } from '../stream/stream-hub.service';
import { accountEventDeps } from './binance-account-events';
import { BINANCE_API_KEY_HEADER, type BinanceRequest, binanceParamsOf } from './binance-auth';
import { LISTEN_KEY_NAME, type UserDataDeps } from './binance-ws.session';
import { OrderOutcomesService } from './order-outcomes.service';
import {
  BinanceCode,
  BinanceError,
  BinanceExceptionFilter,
  mandatory,
  toBinanceError,
} from './binance.errors';

// Binance's user data stream by listenKey: POST /api/v3/userDataStream (the API key in
// X-MBX-APIKEY, no signature: Binance's USER_STREAM security) answers {listenKey}; PUT keeps it
// alive, DELETE closes it. A listenKey lives 60 minutes in Redis unless kept alive, belongs to
// the key's account, and one account has one at a time (POST again answers the same one,
// extended, as Binance does). /ws/<listenKey> and /stream?streams=<listenKey> then carry the
// account's executionReport and outboundAccountPosition events (binance-ws.session.ts).

export const LISTEN_KEY_TTL_MS = 60 * 60 * 1000;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

const recordKey = (listenKey: string) => `binance:listenkey:${listenKey}`;
const accountKey = (accountId: string) => `binance:listenkey-of:${accountId}`;

/** -1125, Binance's answer for a listenKey that does not exist (expired, closed, another account's). */
export const listenKeyNotFound = (): BinanceError =>
  new BinanceError(BinanceCode.INVALID_LISTEN_KEY, 'This listenKey does not exist.');

/** A fresh listenKey: 64 characters of [A-Za-z0-9] from the CSPRNG. */
export function newListenKey(): string {
  const bytes = randomBytes(64);
  let key = '';
  // 248 = 4 x 62: bytes at or above it are dropped, so every character is equally likely.
  for (const b of bytes) if (b < 248) key += ALPHABET[b % 62];
  return key.length >= 64 ? key.slice(0, 64) : key + newListenKey().slice(0, 64 - key.length);
}

/** Whom a listenKey belongs to. */
export interface ListenKeyOwner {
  accountId: string;
  keyId: string;
}

/** The listenKeys in Redis: shared by every gateway instance, expired by Redis. */
@Injectable()
export class ListenKeyStore {
  constructor(private readonly redisService: RedisService) {}

  private get redis(): Redis {
    return this.redisService.redis;
  }

  /** The account's listenKey, extended; a new one when it has none. */
  async create(account: AuthenticatedAccount): Promise<string> {
    return redisCall(this.redis, async () => {
      const owner: ListenKeyOwner = { accountId: account.accountId, keyId: account.keyId };
      const existing = await this.redis.get(accountKey(account.accountId));
      // Still live: extended, and now held by the key that asked (the one a revocation ends it with).
      if (
        existing !== null &&
        (await this.redis.set(recordKey(existing), JSON.stringify(owner), 'PX', LISTEN_KEY_TTL_MS, 'XX')) ===
          'OK'
      ) {
        await this.redis.pexpire(accountKey(account.accountId), LISTEN_KEY_TTL_MS);
        return existing;
      }
      const listenKey = newListenKey();
      await this.redis
        .multi()
        .set(recordKey(listenKey), JSON.stringify(owner), 'PX', LISTEN_KEY_TTL_MS)
        .set(accountKey(account.accountId), listenKey, 'PX', LISTEN_KEY_TTL_MS)
        .exec();
      return listenKey;
    });
  }

  /** Another 60 minutes for the account's listenKey; -1125 when it is not (or no longer) its. */
  async keepalive(account: AuthenticatedAccount, listenKey: string): Promise<void> {
    await this.own(account, listenKey);
    await redisCall(this.redis, () =>
      this.redis
        .multi()
        .pexpire(recordKey(listenKey), LISTEN_KEY_TTL_MS)
        .pexpire(accountKey(account.accountId), LISTEN_KEY_TTL_MS)
        .exec(),
    );
  }

  /** Closes the account's listenKey: its connections get listenKeyExpired. */
  async close(account: AuthenticatedAccount, listenKey: string): Promise<void> {
    await this.own(account, listenKey);
    await redisCall(this.redis, async () => {
      await this.redis.del(recordKey(listenKey));
      // Only if it still names this key (a POST meanwhile may have made a new one).
      if ((await this.redis.get(accountKey(account.accountId))) === listenKey)
        await this.redis.del(accountKey(account.accountId));
    });
  }

  /** The owner of a live listenKey, or null. */
  async owner(listenKey: string): Promise<ListenKeyOwner | null> {
    if (!LISTEN_KEY_NAME.test(listenKey)) return null;
    const raw = await redisCall(this.redis, () => this.redis.get(recordKey(listenKey)));
    if (raw === null) return null;
    const parsed = JSON.parse(raw) as Partial<ListenKeyOwner>;
    return typeof parsed.accountId === 'string' && typeof parsed.keyId === 'string'
      ? { accountId: parsed.accountId, keyId: parsed.keyId }
      : null;
  }

  /** Milliseconds the listenKey has left; 0 when it is gone. */
  async remainingMs(listenKey: string): Promise<number> {
    const ms = await redisCall(this.redis, () => this.redis.pttl(recordKey(listenKey)));
    return ms > 0 ? ms : 0;
  }

  private async own(account: AuthenticatedAccount, listenKey: string): Promise<void> {
    const owner = await this.owner(listenKey);
    if (!owner || owner.accountId !== account.accountId) throw listenKeyNotFound();
  }
}

/** What the stream gateways need for listenKey connections (/ws/<listenKey>). */
@Injectable()
export class UserDataSources {
  readonly deps: UserDataDeps;

  constructor(
    listenKeys: ListenKeyStore,
    auth: ApiKeyAuthService,
    hub: StreamHub,
    queries: OrderQueriesRepository,
    outcomes: OrderOutcomesService,
    balances: BalancesService,
    markets: MarketLookupService,
    db: DatabaseService,
  ) {
    // A listenKey whose API key was revoked (or now names another account) is gone too: its
    // stream ends as an expired one would, within the key cache's TTL.
    const keyStillOwns = async (owner: ListenKeyOwner) =>
      (await auth.activeAccountOf(owner.keyId)) === owner.accountId;
    this.deps = {
      owner: async (listenKey) => {
        const owner = await listenKeys.owner(listenKey);
        return owner && (await keyStillOwns(owner)) ? owner : null;
      },
      remainingMs: async (listenKey) => {
        const owner = await listenKeys.owner(listenKey);
        return owner && (await keyStillOwns(owner)) ? listenKeys.remainingMs(listenKey) : 0;
      },
      events: accountEventDeps(hub, queries, outcomes, balances, markets, db),
    };
  }
}

/**
 * Admits a request by its API key alone (Binance's USER_STREAM endpoints): X-MBX-APIKEY names an
 * active key; the request counts against that key's rate limit. No timestamp, no signature.
 */
@Injectable()
export class BinanceApiKeyGuard implements CanActivate {
  constructor(private readonly auth: ApiKeyAuthService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    const req = http.getRequest<BinanceRequest>();
    const reply = http.getResponse<FastifyReply>();
    const apiKey = header(req, BINANCE_API_KEY_HEADER);
    if (!apiKey) throw new BinanceError(BinanceCode.BAD_API_KEY_FMT, 'API-key format invalid.');
    try {
      const { account, limit, remaining } = await this.auth.admitKey(apiKey);
      void reply
        .header('x-ratelimit-limit', String(limit))
        .header('x-ratelimit-remaining', String(remaining));
      req.account = account;
      return true;
    } catch (err) {
      if (err instanceof KeyRateLimitedError)
        void reply
          .header('x-ratelimit-limit', String(err.limit))
          .header('x-ratelimit-remaining', '0')
          .header('x-ratelimit-scope', 'key');
      throw toBinanceError(err);
    }
  }
}

const accountOf = (req: BinanceRequest): AuthenticatedAccount => {
  if (!req.account) throw new Error('a Binance user stream route without BinanceApiKeyGuard');
  return req.account;
};

/** The listenKey parameter of PUT and DELETE: mandatory, and nothing else. */
function listenKeyOf(req: BinanceRequest): string {
  const params = binanceParamsOf(req);
  const listenKey = params.optional('listenKey');
  params.finish();
  if (listenKey === undefined) throw mandatory('listenKey');
  return listenKey;
}

/** Binance's listenKey endpoints (USER_STREAM: X-MBX-APIKEY only). */
@ApiTags('binance')
@ApiSecurity(BINANCE_SIGNED)
@UseGuards(BinanceApiKeyGuard)
@UseFilters(BinanceExceptionFilter)
@Controller('api/v3')
export class BinanceUserStreamController {
  constructor(private readonly listenKeys: ListenKeyStore) {}

  @Post('userDataStream')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Binance: start a user data stream (X-MBX-APIKEY only, no signature): {listenKey}, valid 60 minutes; the account has one at a time',
  })
  async create(@Req() req: BinanceRequest) {
    binanceParamsOf(req).finish();
    return { listenKey: await this.listenKeys.create(accountOf(req)) };
  }

  @Put('userDataStream')
  @ApiOperation({ summary: 'Binance: keep a listenKey alive another 60 minutes (listenKey)' })
  async keepalive(@Req() req: BinanceRequest) {
    await this.listenKeys.keepalive(accountOf(req), listenKeyOf(req));
    return {};
  }

  @Delete('userDataStream')
  @ApiOperation({ summary: 'Binance: close a user data stream (listenKey)' })
  async close(@Req() req: BinanceRequest) {
    await this.listenKeys.close(accountOf(req), listenKeyOf(req));
    return {};
  }
}
