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
  TOPICS,
  type DepositCommand,
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
import { BalancesService } from '../money/balances.service';

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
}

function commandIdReused(commandId: string): GatewayException {
  return new GatewayException(
    ErrorCode.IDEMPOTENCY_KEY_REUSED,
    `commandId ${commandId} was already used for another movement (kind, account, asset or amount differ)`,
    'commandId',
  );
}
