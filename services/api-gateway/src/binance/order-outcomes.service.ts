import { Injectable } from '@nestjs/common';
import { redisKeys, type MarketSpec, type StreamMessage } from '@trading/contracts';
import { OrderQueriesRepository, type OrderRow, type SettledFill, TradesRepository } from '@trading/db';
import { DatabaseService } from '@trading/nest-common';
import { dbCall } from '../common/dependency-call';
import { StreamHub } from '../stream/stream-hub.service';

// The order pipeline is asynchronous: a placement is answered once Kafka has its command, and
// the order-router stores what became of it a few milliseconds later. Binance's RESULT and FULL
// answers (and its synchronous cancel) wait for that outcome, within a bound. The wait listens
// to the account's order channel (the router publishes each change after committing it) and
// reads the database on every change of the order, with a slow poll as a safety net.

/** Between reads when no update arrives (Redis down, or a message missed). */
const POLL_MS = 250;
/** How far a fill's execution may precede the gateway's receipt of its order (clock skew). */
const CLOCK_SKEW_MS = 60_000;

@Injectable()
export class OrderOutcomesService {
  constructor(
    private readonly hub: StreamHub,
    private readonly db: DatabaseService,
    private readonly orders: OrderQueriesRepository,
    private readonly trades: TradesRepository,
  ) {}

  /**
   * The account's order once `settled(row)` holds, or as last read at `deadline` (null when the
   * router has not stored it by then, or the database could not say).
   */
  async awaitOrder(
    accountId: string,
    orderId: string,
    settled: (row: OrderRow) => boolean,
    deadline: number,
  ): Promise<OrderRow | null> {
    let poked = false;
    let wake: (() => void) | null = null;
    const unsubscribe = await this.listen(accountId, deadline, (m) => {
      if ((m.data as { orderId?: unknown } | null)?.orderId !== orderId) return;
      poked = true;
      wake?.();
    });
    let row: OrderRow | null = null;
    try {
      for (;;) {
        poked = false;
        // The order is on Kafka already: a read that fails is an outcome not known yet, never an
        // error (a client told "failed" would place it again).
        const read = await this.read(() => this.orders.findOwn(accountId, orderId));
        if (read.ok) row = read.value;
        if (row && settled(row)) return row;
        const left = deadline - Date.now();
        if (left <= 0) return row;
        if (poked) continue;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, POLL_MS));
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = null;
      }
    } finally {
      unsubscribe();
    }
  }

  /**
   * The settled fills of a stored order with their fees, waiting (until `deadline`) for
   * market-data to have stored every trade the order's filled quantity counts.
   */
  async fillsOf(row: OrderRow, market: MarketSpec, deadline: number): Promise<SettledFill[]> {
    const wanted = BigInt(row.filledQty);
    if (wanted === 0n) return [];
    let fills: SettledFill[] = [];
    for (;;) {
      const read = await this.read(() =>
        this.trades.settledFills(row.accountId, {
          symbol: market.symbol,
          orderId: row.orderId,
          start: new Date(row.receivedAt.getTime() - CLOCK_SKEW_MS),
          limit: 1000,
        }),
      );
      if (read.ok) fills = read.value;
      const got = fills.reduce((sum, f) => sum + BigInt(f.qty), 0n);
      if (got >= wanted || Date.now() >= deadline) return fills;
      await new Promise((r) => setTimeout(r, Math.min(50, Math.max(0, deadline - Date.now()))));
    }
  }

  /** A database read whose failure (an outage, a timeout) is reported, not thrown. */
  private async read<T>(fn: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false }> {
    try {
      return { ok: true, value: await dbCall(this.db.dataSource, fn) };
    } catch {
      return { ok: false };
    }
  }

  /** Listens to the account's order channel until the returned function is called (best effort). */
  private async listen(
    accountId: string,
    deadline: number,
    listener: (m: StreamMessage) => void,
  ): Promise<() => void> {
    if (!this.hub.isReady) return () => undefined;
    const subscribed = this.hub.subscribe(redisKeys.pubsub(redisKeys.orderChannel(accountId)), listener);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), Math.max(0, deadline - Date.now()));
    });
    try {
      const unsubscribe = await Promise.race([subscribed, timedOut]);
      if (unsubscribe) return unsubscribe;
      // Confirmed too late: drop it once it is.
      subscribed.then((u) => u()).catch(() => undefined);
      return () => undefined;
    } catch {
      // Without the channel the poll alone decides.
      return () => undefined;
    } finally {
      clearTimeout(timer);
    }
  }
}
