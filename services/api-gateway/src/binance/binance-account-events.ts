import { redisKeys, type MarketSpec, type StreamMessage } from '@trading/contracts';
import type { OrderQueriesRepository, OrderRow, SettledFill } from '@trading/db';
import type { DatabaseService } from '@trading/nest-common';
import type { AuthenticatedAccount } from '../auth/api-key-auth.service';
import { dbCall } from '../common/dependency-call';
import type { MarketLookupService } from '../markets/market-lookup.service';
import type { BalancesService } from '../money/balances.service';
import type { StreamHub } from '../stream/stream-hub.service';
import { binanceOrder, binanceOrderFill, binanceStatus, quoteOf } from './binance.views';
import type { OrderOutcomesService } from './order-outcomes.service';

// An account's events in Binance's shape, shared by both ways Binance delivers them: the
// WebSocket API's userDataStream.subscribe.signature (/ws-api/v3) and the listenKey stream
// (/ws/<listenKey>, /stream?streams=<listenKey>). Events come from the account's order channel
// (the order-router publishes each change once committed): an executionReport per change of an
// order, read back from the database with its new fills and their fees, then an
// outboundAccountPosition with the market's two balances.

/** How long a report waits for market-data to have stored the fills the order counts. */
const FILLS_WAIT_MS = 2000;

/** What the account events are read from. */
export interface AccountEventDeps {
  hub: StreamHub;
  findOrder: (accountId: string, orderId: string) => Promise<OrderRow | null>;
  fillsOf: (row: OrderRow, market: MarketSpec, deadline: number) => Promise<SettledFill[]>;
  balances: (account: AuthenticatedAccount) => Promise<{ asset: string; available: string; held: string }[]>;
  market: (symbol: string) => Promise<MarketSpec | undefined>;
}

/** The account event sources of the gateway's services. */
export function accountEventDeps(
  hub: StreamHub,
  queries: OrderQueriesRepository,
  outcomes: OrderOutcomesService,
  balances: BalancesService,
  markets: MarketLookupService,
  db: DatabaseService,
): AccountEventDeps {
  return {
    hub,
    findOrder: (accountId, orderId) => dbCall(db.dataSource, () => queries.findOwn(accountId, orderId)),
    fillsOf: (row, market, deadline) => outcomes.fillsOf(row, market, deadline),
    balances: async (account) => (await balances.balances(account)).balances,
    market: (symbol) => markets.find(symbol),
  };
}

/** The Binance execution type of an order change. */
function executionType(status: string): string | null {
  switch (status) {
    case 'NEW':
      return 'NEW';
    case 'CANCELED':
      return 'CANCELED';
    case 'EXPIRED':
    case 'EXPIRED_IN_MATCH':
      return 'EXPIRED';
    case 'REJECTED':
      return 'REJECTED';
    default:
      return null;
  }
}

/** An executionReport of a stored order; with `fill`, the TRADE report of that fill. */
export function executionReport(
  row: OrderRow,
  market: MarketSpec,
  exec: string,
  fill: SettledFill | null,
  now: number,
) {
  const o = binanceOrder(row, market);
  const f = fill ? binanceOrderFill(fill, market) : null;
  return {
    e: 'executionReport',
    E: now,
    s: o.symbol,
    c: o.clientOrderId,
    S: o.side,
    o: o.type,
    f: o.timeInForce,
    q: o.origQty,
    p: o.price,
    P: o.stopPrice,
    F: o.icebergQty,
    g: -1,
    C: '',
    x: exec,
    X: o.status,
    r: 'NONE',
    i: o.orderId,
    l: f ? f.qty : '0',
    z: o.executedQty,
    L: f ? f.price : '0',
    n: f ? f.commission : '0',
    N: f ? f.commissionAsset : null,
    T: fill ? fill.executedAt.getTime() : o.updateTime,
    t: f ? f.tradeId : -1,
    w: o.isWorking,
    m: fill ? fill.liquidity === 'maker' : false,
    M: false,
    O: o.time,
    Z: o.cummulativeQuoteQty,
    Y: fill ? quoteOf(BigInt(fill.price) * BigInt(fill.qty), market) : '0',
    Q: o.origQuoteOrderQty,
    W: o.workingTime,
    V: 'NONE',
  };
}

interface OrderSeen {
  status: string;
  fills: Set<number>;
}

/**
 * One account's event feed: subscribes to its order channel and emits, in order, each
 * executionReport (NEW, TRADE per fill, CANCELED, EXPIRED, REJECTED) and the
 * outboundAccountPosition after it.
 */
export class AccountEventFeed {
  private unsubscribe: (() => void) | null = null;
  private stopped = false;
  private events: Promise<void> = Promise.resolve();
  private readonly seen = new Map<string, OrderSeen>();

  constructor(
    private readonly deps: AccountEventDeps,
    private readonly account: AuthenticatedAccount,
    private readonly event: (event: Record<string, unknown>) => void,
  ) {}

  /** Resolves once subscribed (throws when Redis cannot be reached). */
  async start(): Promise<void> {
    const unsubscribe = await this.deps.hub.subscribe(
      redisKeys.pubsub(redisKeys.orderChannel(this.account.accountId)),
      (m) => this.onOrderMessage(m),
    );
    if (this.stopped) return unsubscribe();
    this.unsubscribe = unsubscribe;
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  /** Resolves once every event queued so far was emitted (tests). */
  settled(): Promise<void> {
    return this.events;
  }

  private onOrderMessage(m: StreamMessage): void {
    const data = m.data as { type?: unknown; orderId?: unknown } | null;
    if (data?.type !== 'order' || typeof data.orderId !== 'string') return;
    const orderId = data.orderId;
    this.events = this.events.then(() => this.report(orderId)).catch(() => undefined);
  }

  /** The reports of one order change: its new fills (TRADE) or its new status, then the balances. */
  private async report(orderId: string): Promise<void> {
    const account = this.account;
    if (this.stopped) return;
    const row = await this.deps.findOrder(account.accountId, orderId);
    if (!row) return;
    const market = await this.deps.market(row.symbol);
    if (!market) return;
    const status = binanceStatus(row);
    const seen = this.seen.get(orderId) ?? { status: '', fills: new Set<number>() };
    this.seen.set(orderId, seen);
    let sent = false;
    if (row.filledQty !== '0') {
      const fills = await this.deps.fillsOf(row, market, Date.now() + FILLS_WAIT_MS);
      for (const f of fills.sort((a, b) => a.seq - b.seq)) {
        if (seen.fills.has(f.seq)) continue;
        seen.fills.add(f.seq);
        this.event(executionReport(row, market, 'TRADE', f, Date.now()));
        sent = true;
      }
    }
    const exec = executionType(status);
    if (!sent && exec && status !== seen.status) {
      this.event(executionReport(row, market, exec, null, Date.now()));
      sent = true;
    }
    seen.status = status;
    if (status !== 'NEW' && status !== 'PARTIALLY_FILLED' && status !== 'PENDING_NEW')
      this.seen.delete(orderId);
    if (!sent) return;
    const assets = new Set([market.baseAsset, market.quoteAsset]);
    const balances = (await this.deps.balances(account)).filter((b) => assets.has(b.asset));
    const now = Date.now();
    this.event({
      e: 'outboundAccountPosition',
      E: now,
      u: now,
      B: balances.map((b) => ({ a: b.asset, f: b.available, l: b.held })),
    });
  }
}
