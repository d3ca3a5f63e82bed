import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { BalancesRepository, MarketsRepository } from '@trading/db';
import { DatabaseService } from '@trading/nest-common';
import type { AuthenticatedAccount } from '../auth/api-key-auth.service';
import { dbCall } from '../common/dependency-call';
import { HistoryReads } from '../common/history-reads';
import { queryInteger } from '../common/edge-input';
import { ErrorCode, GatewayException } from '../errors/gateway.exception';
import { fromZodError } from '../errors/gateway-exception.filter';
import { toDecimal, type BalanceView, type LedgerView } from './money.views';

const ledgerQuerySchema = z
  .object({
    asset: z
      .string()
      .regex(/^[A-Z0-9]{2,12}$/)
      .optional(),
    limit: queryInteger(1, 500, 100),
    cursor: z.string().optional(),
  })
  .strict();

/** The caller's money: balances and ledger, read from the database the router writes. */
@Injectable()
export class BalancesService {
  private decimals = new Map<string, number>();

  constructor(
    private readonly db: DatabaseService,
    private readonly balancesRepo: BalancesRepository,
    private readonly markets: MarketsRepository,
    private readonly history: HistoryReads,
  ) {}

  async balances(account: AuthenticatedAccount): Promise<{ balances: BalanceView[] }> {
    const rows = await dbCall(this.db.dataSource, () => this.balancesRepo.forAccounts([account.accountId]));
    const decimals = await this.assetDecimals(rows.map((r) => r.asset));
    return {
      balances: rows
        .sort((a, b) => (a.asset < b.asset ? -1 : 1))
        .map((r) => ({
          asset: r.asset,
          available: toDecimal(r.available, decimals.get(r.asset) ?? 0),
          held: toDecimal(r.held, decimals.get(r.asset) ?? 0),
        })),
    };
  }

  async ledger(
    account: AuthenticatedAccount,
    query: unknown,
  ): Promise<{ data: LedgerView[]; nextCursor: string | null }> {
    const parsed = ledgerQuerySchema.safeParse(query ?? {});
    if (!parsed.success) throw fromZodError(parsed.error, ErrorCode.VALIDATION_FAILED);
    const { asset, limit, cursor } = parsed.data;
    // A ledger entry id; anything else is a cursor this API did not return.
    if (cursor !== undefined && !/^[0-9]{1,18}$/.test(cursor))
      throw new GatewayException(ErrorCode.INVALID_CURSOR, 'cursor is not one this API returned', 'cursor');
    const rows = await dbCall(this.db.dataSource, () =>
      this.history.read('ledger', (r) =>
        r.balances.ledgerPage(account.accountId, {
          asset,
          beforeId: cursor ? BigInt(cursor) : undefined,
          limit,
        }),
      ),
    );
    const decimals = await this.assetDecimals(rows.map((r) => r.asset));
    const data = rows.map((r) => {
      const d = decimals.get(r.asset) ?? 0;
      return {
        id: r.id.toString(),
        asset: r.asset,
        availableDelta: toDecimal(r.availableDelta, d),
        heldDelta: toDecimal(r.heldDelta, d),
        kind: r.kind,
        ref: r.ref,
        time: r.createdAt.toISOString(),
      };
    });
    return { data, nextCursor: rows.length === limit ? rows[rows.length - 1].id.toString() : null };
  }

  /** Asset precision, loaded once and refreshed when an unknown asset shows up. */
  /**
   * Decimals by asset code, read again when one of `assets` is not known yet: an asset listed
   * after the first read (an operator's new market) used to be shown with 0 decimals by every
   * gateway task but the one that took its deposit, i.e. 1 BTC as "100000000".
   */
  async assetDecimals(assets?: string | readonly string[]): Promise<Map<string, number>> {
    const wanted = typeof assets === 'string' ? [assets] : (assets ?? []);
    if (this.decimals.size === 0 || wanted.some((a) => !this.decimals.has(a))) {
      const assets = await dbCall(this.db.dataSource, () => this.markets.findAssets());
      this.decimals = new Map(assets.map((a) => [a.code, a.decimals]));
    }
    return this.decimals;
  }

  async requireAsset(asset: string): Promise<number> {
    const d = (await this.assetDecimals(asset)).get(asset);
    if (d === undefined)
      throw new GatewayException(ErrorCode.VALIDATION_FAILED, `unknown asset ${asset}`, 'asset');
    return d;
  }
}
