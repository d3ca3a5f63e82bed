import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import {
  idSchema,
  isSameMoneyMovement,
  moneyLedgerKeys,
  orderCommandSchema,
  parseDecimal,
  symbolSchema,
  fromSteps,
  toMarketSpec,
  TOPICS,
  type DepositCommand,
  type MarketRow,
  type WithdrawCommand,
} from '@trading/contracts';
import { AccountsRepository, ApiKeysRepository, BalancesRepository, MarketsRepository } from '@trading/db';
import { DatabaseService, ProducerService, RedisService } from '@trading/nest-common';
import { ApiKeyAuthService } from '../auth/api-key-auth.service';
import { ApiKeyIssuer } from '../auth/api-key.issuer';
import { SecretCipher } from '../auth/secret.cipher';
import { dbCall } from '../common/dependency-call';
import { ErrorCode, GatewayException } from '../errors/gateway.exception';
import { fromZodError } from '../errors/gateway-exception.filter';
import { marketView, type MarketView } from '../markets/market-data.service';
import { BalancesService } from '../money/balances.service';
import {
  checkedMarket,
  createMarketSchema,
  parseBody,
  patchMarketSchema,
  roundUpTo,
  sameDecimal,
} from './operator-markets';

export const moneySchema = z
  .object({
    accountId: idSchema,
    asset: z.string().regex(/^[A-Z0-9]{2,12}$/),
    amount: z.string().regex(/^(0|[1-9][0-9]{0,29})(\.[0-9]{1,18})?$/, 'must be a positive decimal string'),
    // Lets an operator retry safely: the same id is the same movement.
    commandId: idSchema.optional(),
  })
  .strict();
/**
 * What an operator commandId was first used for ({kind, accountId, asset, amount} in units), kept
 * a day: a reuse with another body is refused before it reaches Kafka, also while the first is
 * still on its way to the ledger or was refused by the router (no ledger entry).
 */
const COMMAND_RECORD_TTL_SECONDS = 86_400;
const commandKey = (commandId: string): string => `operator-command:${commandId}`;

export interface IssuedAccountKey {
  accountId: string;
  apiKey: string;
  secret: string;
}

export const accountSchema = z.object({ accountId: idSchema, name: z.string().min(1).max(200) }).strict();
export const feesSchema = z
  .object({ makerFeeBps: z.number().int().min(0).max(1000), takerFeeBps: z.number().int().min(0).max(1000) })
  .strict();

/**
 * Operator actions. Deposits and withdrawals are commands on the account's stream, applied by
 * the router that owns the balance (a withdrawal beyond `available` is refused there); the
 * answer is 202 and the result shows in /v1/balances and on the account's WebSocket.
 */
@Injectable()
export class OperatorService {
  constructor(
    private readonly producer: ProducerService,
    private readonly db: DatabaseService,
    private readonly balances: BalancesService,
    private readonly cipher: SecretCipher,
    private readonly auth: ApiKeyAuthService,
    private readonly redis: RedisService,
    private readonly accounts: AccountsRepository,
    private readonly apiKeys: ApiKeysRepository,
    private readonly ledger: BalancesRepository,
    private readonly markets: MarketsRepository,
  ) {}

  async move(
    kind: 'deposit' | 'withdraw',
    body: unknown,
  ): Promise<{ commandId: string; status: 'accepted' }> {
    const parsed = moneySchema.safeParse(body ?? {});
    if (!parsed.success) throw fromZodError(parsed.error);
    const { accountId, asset, amount } = parsed.data;
    const decimals = await this.balances.requireAsset(asset);
    const units = parseDecimal(amount, decimals);
    if (units === null || units <= 0n || units > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new GatewayException(
        ErrorCode.VALIDATION_FAILED,
        `amount must be positive with at most ${decimals} decimals`,
        'amount',
      );
    }
    const account = await dbCall(this.db.dataSource, () => this.accounts.findById(accountId));
    if (!account)
      throw new GatewayException(ErrorCode.VALIDATION_FAILED, `unknown account ${accountId}`, 'accountId');
    const commandId = parsed.data.commandId ?? randomUUID();
    const command: DepositCommand | WithdrawCommand = {
      kind,
      commandId,
      accountId,
      asset,
      amount: Number(units),
      receivedAt: Date.now(),
    };
    if (!this.producer.producer.isConnected) throw GatewayException.dependencyUnavailable('kafka');
    if (parsed.data.commandId !== undefined) await this.claimCommandId(command);
    try {
      await this.producer.producer.send({
        topic: TOPICS.orderCommands.name,
        key: accountId,
        value: command,
        schema: orderCommandSchema,
      });
    } catch {
      throw GatewayException.dependencyUnavailable('kafka');
    }
    return { commandId, status: 'accepted' };
  }

  /**
   * One commandId is one movement: the same body again is a retry (202, the router applies it
   * once), another body is 409 IDEMPOTENCY_KEY_REUSED and nothing is sent. The ledger says what
   * was posted under the id; the Redis record what was sent (best effort: without Redis the
   * router still refuses a reused id that reached the ledger).
   */
  private async claimCommandId(cmd: DepositCommand | WithdrawCommand): Promise<void> {
    const posted = await dbCall(this.db.dataSource, () =>
      this.ledger.findEntries(moneyLedgerKeys(cmd.commandId)),
    );
    if (posted.some((e) => !isSameMoneyMovement(e, cmd))) throw commandIdReused(cmd.commandId);
    const body = JSON.stringify({
      kind: cmd.kind,
      accountId: cmd.accountId,
      asset: cmd.asset,
      amount: cmd.amount,
    });
    const redis = this.redis.redis;
    if (redis.status !== 'ready') return;
    let first: string | null;
    try {
      const claimed = await redis.set(
        commandKey(cmd.commandId),
        body,
        'EX',
        COMMAND_RECORD_TTL_SECONDS,
        'NX',
      );
      if (claimed === 'OK') return;
      first = await redis.get(commandKey(cmd.commandId));
    } catch {
      return;
    }
    if (first !== null && first !== body) throw commandIdReused(cmd.commandId);
  }

  /**
   * Creates the account and its first key: 201 once. The same account id again is 409
   * ACCOUNT_EXISTS and issues nothing (another key of an account is issueApiKey, on its own
   * route), so a retried or mistyped creation never hands out an extra credential.
   */
  async createAccount(body: unknown): Promise<IssuedAccountKey> {
    const parsed = accountSchema.safeParse(body ?? {});
    if (!parsed.success) throw fromZodError(parsed.error);
    const { accountId, name } = parsed.data;
    return dbCall(this.db.dataSource, async () => {
      if (!(await this.accounts.create(accountId, name)))
        throw new GatewayException(
          ErrorCode.ACCOUNT_EXISTS,
          `account ${accountId} exists (another key: POST /v1/operator/accounts/${accountId}/api-keys)`,
          'accountId',
        );
      return this.issueKey(accountId);
    });
  }

  /** Another API key of an existing account: 201 with its secret (shown once), 404 if unknown. */
  async issueApiKey(accountId: string): Promise<IssuedAccountKey> {
    const unknown = () => new GatewayException(ErrorCode.ACCOUNT_NOT_FOUND, 'unknown account', 'accountId');
    if (!idSchema.safeParse(accountId).success) throw unknown();
    return dbCall(this.db.dataSource, async () => {
      if (!(await this.accounts.findById(accountId))) throw unknown();
      return this.issueKey(accountId);
    });
  }

  private async issueKey(accountId: string): Promise<IssuedAccountKey> {
    // The secret is shown here once and stored only encrypted.
    const key = await new ApiKeyIssuer(this.apiKeys, this.cipher).issue(accountId, 'operator');
    return { accountId, apiKey: key.keyId, secret: key.secret };
  }

  /**
   * Marks the key revoked (idempotent) and drops it from this instance's auth cache, so the next
   * signed request with it gets 401 INVALID_API_KEY here. Other gateway instances keep their
   * cached secret until it expires: they refuse the key within API_KEY_CACHE_TTL_MS.
   */
  async revokeApiKey(keyId: string): Promise<void> {
    if (!idSchema.safeParse(keyId).success)
      throw new GatewayException(ErrorCode.API_KEY_NOT_FOUND, 'unknown API key', 'keyId');
    const known = await dbCall(this.db.dataSource, async () => {
      return (await this.apiKeys.revoke(keyId)) || (await this.apiKeys.find(keyId)) !== null;
    });
    this.auth.invalidate(keyId);
    if (!known) throw new GatewayException(ErrorCode.API_KEY_NOT_FOUND, 'unknown API key', 'keyId');
  }

  async setFees(
    symbol: string,
    body: unknown,
  ): Promise<{ symbol: string; makerFeeBps: number; takerFeeBps: number }> {
    if (!symbolSchema.safeParse(symbol).success)
      throw new GatewayException(ErrorCode.UNKNOWN_SYMBOL, `unknown symbol ${symbol}`, 'symbol');
    const parsed = feesSchema.safeParse(body ?? {});
    if (!parsed.success) throw fromZodError(parsed.error);
    const updated = await dbCall(this.db.dataSource, () =>
      this.markets.setFees(symbol, parsed.data.makerFeeBps, parsed.data.takerFeeBps),
    );
    if (!updated) throw new GatewayException(ErrorCode.UNKNOWN_SYMBOL, `unknown symbol ${symbol}`, 'symbol');
    return { symbol, ...parsed.data };
  }

  /**
   * Lists a market: 201 with it as GET /v1/markets shows it (which it does, and every service
   * trades it, within the catalogs' 2 s reload). 409 MARKET_EXISTS for a listed symbol; 400
   * naming the field for a bad rule. Nothing is written unless every rule is valid.
   */
  async createMarket(body: unknown): Promise<MarketView> {
    const b = parseBody(createMarketSchema, body);
    if (b.symbol !== `${b.baseAsset}-${b.quoteAsset}`)
      throw new GatewayException(
        ErrorCode.VALIDATION_FAILED,
        `symbol must be ${b.baseAsset}-${b.quoteAsset} (baseAsset-quoteAsset)`,
        'symbol',
      );
    if (b.baseAsset === b.quoteAsset)
      throw new GatewayException(
        ErrorCode.VALIDATION_FAILED,
        'quoteAsset must differ from baseAsset',
        'quoteAsset',
      );
    return dbCall(this.db.dataSource, async () => {
      const newAssets: [string, number][] = [];
      const decimalsOf = async (side: 'base' | 'quote'): Promise<number> => {
        const code = side === 'base' ? b.baseAsset : b.quoteAsset;
        const given = side === 'base' ? b.baseDecimals : b.quoteDecimals;
        const known = await this.markets.assetDecimals(code);
        if (known === null && given === undefined)
          throw new GatewayException(
            ErrorCode.VALIDATION_FAILED,
            `asset ${code} is not listed: give ${side}Decimals to list it`,
            `${side}Asset`,
          );
        if (known !== null && given !== undefined && given !== known)
          throw new GatewayException(
            ErrorCode.VALIDATION_FAILED,
            `asset ${code} is listed with ${known} decimals`,
            `${side}Decimals`,
          );
        if (known === null) newAssets.push([code, given!]);
        return known ?? given!;
      };
      const row: MarketRow = {
        symbol: b.symbol,
        baseAsset: b.baseAsset,
        quoteAsset: b.quoteAsset,
        baseDecimals: await decimalsOf('base'),
        quoteDecimals: await decimalsOf('quote'),
        tickSize: b.tickSize,
        lotSize: b.lotSize,
        minQtyLots: 1,
        minNotional: b.minNotional ?? '0',
        makerFeeBps: b.makerFeeBps ?? 10,
        takerFeeBps: b.takerFeeBps ?? 20,
        status: b.status ?? 'trading',
        priceBandMin: b.priceBandMin ?? null,
        priceBandMax: b.priceBandMax ?? null,
      };
      const { spec, rules } = checkedMarket(row, b.minQuantity ?? b.lotSize);
      if (
        !(await this.markets.createMarket(
          { ...rules, symbol: b.symbol, baseAsset: b.baseAsset, quoteAsset: b.quoteAsset },
          newAssets,
        ))
      )
        throw new GatewayException(
          ErrorCode.MARKET_EXISTS,
          `market ${b.symbol} exists (change it: PATCH)`,
          'symbol',
        );
      return marketView(spec);
    });
  }

  /**
   * Changes a market's rules: 200 with the market as it now is. Minimums, price band, fees and
   * status apply to orders (and amends) from the catalogs' next reload (2 s) on; resting orders
   * keep what they were accepted with. tickSize and lotSize are the units every open order's
   * price and quantity are counted in, and the gateways convert decimals with the catalog they
   * hold: they change only on a halted market (409 MARKET_NOT_HALTED) with no open order (409
   * MARKET_HAS_OPEN_ORDERS), the field naming the rule.
   */
  async patchMarket(symbol: string, body: unknown): Promise<MarketView> {
    const unknown = () =>
      new GatewayException(ErrorCode.UNKNOWN_SYMBOL, `unknown symbol ${symbol}`, 'symbol');
    if (!symbolSchema.safeParse(symbol).success) throw unknown();
    const b = parseBody(patchMarketSchema, body);
    return dbCall(this.db.dataSource, async () => {
      const current = (await this.markets.findRows()).find((r) => r.symbol === symbol);
      if (!current) throw unknown();
      const now = toMarketSpec(current);
      const row: MarketRow = {
        ...current,
        tickSize: b.tickSize ?? now.tickSize,
        lotSize: b.lotSize ?? now.lotSize,
        minNotional: b.minNotional ?? now.minNotional,
        makerFeeBps: b.makerFeeBps ?? now.makerFeeBps,
        takerFeeBps: b.takerFeeBps ?? now.takerFeeBps,
        status: b.status ?? now.status,
        priceBandMin: b.priceBandMin !== undefined ? b.priceBandMin : (now.priceBandMin ?? null),
        priceBandMax: b.priceBandMax !== undefined ? b.priceBandMax : (now.priceBandMax ?? null),
      };
      // A new lotSize without a minQuantity keeps the minimum, rounded up to the new lot.
      const minQuantity = b.minQuantity ?? roundUpTo(fromSteps(now.minQtyLots, now.lotSize), row.lotSize);
      const { spec, rules } = checkedMarket(row, minQuantity);
      const stepsChanged = (['tickSize', 'lotSize'] as const).filter(
        (f) => b[f] !== undefined && !sameDecimal(b[f], now[f]),
      );
      if (stepsChanged.length > 0) {
        const field = stepsChanged[0];
        if (now.status !== 'halted')
          throw new GatewayException(
            ErrorCode.MARKET_NOT_HALTED,
            `${field} changes only on a halted market (PATCH {"status":"halted"} first, then wait 2 s)`,
            field,
          );
        if (await this.markets.hasOpenOrders(symbol))
          throw new GatewayException(
            ErrorCode.MARKET_HAS_OPEN_ORDERS,
            `${field} cannot change while orders of ${symbol} are open (their prices and quantities are counted in it)`,
            field,
          );
      }
      if (!(await this.markets.updateRules(symbol, rules))) throw unknown();
      return marketView(spec);
    });
  }
}

function commandIdReused(commandId: string): GatewayException {
  return new GatewayException(
    ErrorCode.IDEMPOTENCY_KEY_REUSED,
    `commandId ${commandId} was already used for another movement (kind, account, asset or amount differ)`,
    'commandId',
  );
}
