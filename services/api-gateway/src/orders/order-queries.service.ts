import { Injectable } from '@nestjs/common';
import { OrderQueriesRepository } from '@trading/db';
import { DatabaseService } from '@trading/nest-common';
import type { AuthenticatedAccount } from '../auth/api-key-auth.service';
import { dbCall } from '../common/dependency-call';
import { HistoryReads } from '../common/history-reads';
import { decodeCursor, encodeCursor } from '../common/cursor';
import { ErrorCode, GatewayException } from '../errors/gateway.exception';
import { fromZodError } from '../errors/gateway-exception.filter';
import { MarketLookupService } from '../markets/market-lookup.service';
import {
  FINAL_STATUSES,
  listFillsQuerySchema,
  listOrdersQuerySchema,
  orderIdParamSchema,
} from './order-request.schema';
import { toFillView, toOrderView, type FillView, type OrderView } from './order.view';

// Cursor parts are checked before they reach SQL, so a forged cursor is a 400, never a 500.
const MICROS = /^[0-9]{1,17}$/;
const MAX_CURSOR_LENGTH = 512;
const badCursor = () =>
  new GatewayException(ErrorCode.INVALID_CURSOR, 'cursor is not one this API returned', 'cursor');

export interface Page<T> {
  data: T[];
  /** Pass as `cursor` for the next (older) page; null at the end. */
  nextCursor: string | null;
}

/** The read side of the caller's own orders and fills (PostgreSQL). */
@Injectable()
export class OrderQueriesService {
  constructor(
    private readonly db: DatabaseService,
    private readonly repo: OrderQueriesRepository,
    private readonly markets: MarketLookupService,
    private readonly history: HistoryReads,
  ) {}

  async get(account: AuthenticatedAccount, orderId: string): Promise<OrderView> {
    const notFound = new GatewayException(ErrorCode.ORDER_NOT_FOUND, 'order not found');
    if (!orderIdParamSchema.safeParse(orderId).success) throw notFound;
    const row = await dbCall(this.db.dataSource, () => this.repo.findOwn(account.accountId, orderId));
    if (!row) throw notFound;
    return toOrderView(row, await this.market(row.symbol));
  }

  async list(account: AuthenticatedAccount, query: unknown): Promise<Page<OrderView>> {
    const parsed = listOrdersQuerySchema.safeParse(query ?? {});
    if (!parsed.success) throw fromZodError(parsed.error);
    const q = parsed.data;
    const after = q.cursor ? decodeCursor(q.cursor, 2) : undefined;
    if (after && (!MICROS.test(after[0]) || !orderIdParamSchema.safeParse(after[1]).success))
      throw badCursor();
    const listQuery = {
      symbol: q.symbol,
      status: q.status,
      limit: q.limit,
      after: after ? { createdAtKey: after[0], orderId: after[1] } : undefined,
    };
    // Closed orders are history (the replica may answer); a list that can hold an order just
    // placed reads the primary.
    const rows = await dbCall(this.db.dataSource, () =>
      q.status !== undefined && FINAL_STATUSES.has(q.status)
        ? this.history.read('orders', (r) => r.orders.listOwn(account.accountId, listQuery))
        : this.repo.listOwn(account.accountId, listQuery),
    );
    const data: OrderView[] = [];
    for (const r of rows) data.push(toOrderView(r, await this.market(r.symbol)));
    const last = rows.at(-1);
    return {
      data,
      nextCursor: last && rows.length === q.limit ? encodeCursor([last.createdAtKey, last.orderId]) : null,
    };
  }

  async fills(account: AuthenticatedAccount, query: unknown): Promise<Page<FillView>> {
    const parsed = listFillsQuerySchema.safeParse(query ?? {});
    if (!parsed.success) throw fromZodError(parsed.error);
    const q = parsed.data;
    if (q.cursor !== undefined && q.cursor.length > MAX_CURSOR_LENGTH) throw badCursor();
    const page = await dbCall(this.db.dataSource, async () => {
      try {
        return await this.history.read('fills', (r) =>
          r.trades.forAccount(account.accountId, { symbol: q.symbol, cursor: q.cursor, limit: q.limit }),
        );
      } catch (err) {
        // TradesRepository refuses a cursor it did not issue with a RangeError.
        if (err instanceof RangeError) throw badCursor();
        throw err;
      }
    });
    const data: FillView[] = [];
    for (const f of page.fills) data.push(toFillView(f, await this.market(f.symbol)));
    return { data, nextCursor: page.nextCursor };
  }

  private async market(symbol: string) {
    const market = await this.markets.find(symbol);
    // Markets are never deleted; a row for an unknown one means the catalog is not loaded yet.
    if (!market) throw GatewayException.dependencyUnavailable('database');
    return market;
  }
}
