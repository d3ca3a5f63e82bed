import { Injectable } from '@nestjs/common';
import { fromSteps, type MarketSpec } from '@trading/contracts';
import { OrderQueriesRepository } from '@trading/db';
import { DatabaseService } from '@trading/nest-common';
import type { AccountStreamData } from '@trading/risk-engine';
import { dbCall } from '../common/dependency-call';
import { MarketLookupService } from '../markets/market-lookup.service';
import { BalancesService } from '../money/balances.service';
import { toDecimal, type BalanceView } from '../money/money.views';
import { toOrderView, type OrderView } from '../orders/order.view';

/** The `orders` channel's snapshot: what REST shows for open orders and balances, at `seq`. */
export interface AccountSnapshot {
  seq: number;
  data: { orders: OrderView[]; balances: BalanceView[] };
}

/** A stream update as the client sees it: decimal strings, as the REST API shows them. */
export type AccountUpdateView =
  | {
      type: 'order';
      orderId: string;
      symbol: string;
      status: string;
      reason: string | null;
      quantity?: string;
      filledQuantity?: string;
      event?: string;
    }
  | { type: 'balance'; asset: string; available: string; held: string }
  | {
      type: 'deposit' | 'withdrawal';
      commandId: string;
      asset: string;
      status: string;
      reason: string | null;
    };

/**
 * The own-orders channel's edge (ADR 0014): the snapshot read from PostgreSQL in one transaction
 * with the account's stream seq, and each update of account.events.v1 (integers: lots, asset
 * units) in decimal strings with the market catalog and the asset precisions.
 */
@Injectable()
export class AccountStreamViews {
  private decimals = new Map<string, number>();

  constructor(
    private readonly db: DatabaseService,
    private readonly queries: OrderQueriesRepository,
    private readonly balances: BalancesService,
    private readonly markets: MarketLookupService,
  ) {}

  async snapshot(accountId: string): Promise<AccountSnapshot> {
    const s = await dbCall(this.db.dataSource, () => this.queries.streamSnapshot(accountId));
    this.decimals = await this.balances.assetDecimals(s.balances.map((b) => b.asset));
    const orders: OrderView[] = [];
    for (const row of s.orders) {
      const market = await this.markets.find(row.symbol);
      if (market) orders.push(toOrderView(row, market));
    }
    return {
      seq: s.seq,
      data: {
        orders,
        balances: s.balances.map((b) => ({
          asset: b.asset,
          available: toDecimal(b.available, this.decimals.get(b.asset) ?? 0),
          held: toDecimal(b.held, this.decimals.get(b.asset) ?? 0),
        })),
      },
    };
  }

  /**
   * An update in decimals; null when its market or asset is not known here yet (the session then
   * takes a fresh snapshot, which loads them) or it is not an update this channel carries.
   */
  update(data: unknown): AccountUpdateView | null {
    const u = data as AccountStreamData | null;
    switch (u?.type) {
      case 'order': {
        const market: MarketSpec | undefined = this.markets.get(u.symbol);
        if (!market) return null;
        return {
          type: 'order',
          orderId: u.orderId,
          symbol: u.symbol,
          status: u.status,
          reason: u.reason,
          ...(u.qty !== undefined ? { quantity: fromSteps(BigInt(u.qty), market.lotSize) } : {}),
          ...(u.filledQty !== undefined
            ? { filledQuantity: fromSteps(BigInt(u.filledQty), market.lotSize) }
            : {}),
          ...(u.event !== undefined ? { event: u.event } : {}),
        };
      }
      case 'balance': {
        const d = this.decimals.get(u.asset);
        if (d === undefined) return null;
        return {
          type: 'balance',
          asset: u.asset,
          available: toDecimal(BigInt(u.available), d),
          held: toDecimal(BigInt(u.held), d),
        };
      }
      case 'deposit':
      case 'withdrawal':
        return {
          type: u.type,
          commandId: u.commandId,
          asset: u.asset,
          status: u.status,
          reason: u.reason,
        };
      default:
        return null;
    }
  }
}
