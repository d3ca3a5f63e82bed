import { Logger } from '@nestjs/common';
import { type OnGatewayConnection, type OnGatewayDisconnect, WebSocketGateway } from '@nestjs/websockets';
import { redisKeys, type MarketSpec, type StreamMessage } from '@trading/contracts';
import { OrderQueriesRepository, type OrderRow, type SettledFill } from '@trading/db';
import { DatabaseService } from '@trading/nest-common';
import { type AuthenticatedAccount, ApiKeyAuthService } from '../auth/api-key-auth.service';
import { dbCall } from '../common/dependency-call';
import { GatewayMetrics } from '../common/gateway.metrics';
import { MarketLookupService } from '../markets/market-lookup.service';
import { BalancesService } from '../money/balances.service';
import { StreamHub } from '../stream/stream-hub.service';
import { WS_OPEN, type WsClient } from '../stream/stream-message.schema';
import { recvWindowOf, timestampWithin } from './binance-auth';
import { BinanceParams } from './binance-params';
import { BinanceCode, BinanceError, toBinanceError } from './binance.errors';
import { binanceOrder, binanceOrderFill, binanceStatus, quoteOf } from './binance.views';
import { OrderOutcomesService } from './order-outcomes.service';

// The part of Binance's WebSocket API (/ws-api/v3) that ccxt 4.5 needs for spot account events:
// `userDataStream.subscribe.signature` (how its watchOrders, watchMyTrades and watchBalance
// subscribe), `userDataStream.unsubscribe`, `ping`, `time`. Events come from the account's order
// channel (the order-router publishes each change once committed): an executionReport per change
// of an order, read back from the database with its new fills and their fees, then an
// outboundAccountPosition with the market's two balances.

export const BINANCE_WS_API_PATH = '/ws-api/v3';
const FUTURE_TOLERANCE_MS = 1000;
/** How long a report waits for market-data to have stored the fills the order counts. */
const FILLS_WAIT_MS = 2000;

type RequestId = string | number | null;

export interface WsApiDeps {
  auth: ApiKeyAuthService;
  hub: StreamHub;
  findOrder: (accountId: string, orderId: string) => Promise<OrderRow | null>;
  fillsOf: (row: OrderRow, market: MarketSpec, deadline: number) => Promise<SettledFill[]>;
  balances: (account: AuthenticatedAccount) => Promise<{ asset: string; available: string; held: string }[]>;
  market: (symbol: string) => Promise<MarketSpec | undefined>;
}

/** The signed payload of a WebSocket API request: its parameters but signature, sorted, URL-encoded. */
export function wsApiPayload(params: Record<string, string>): string {
  return Object.keys(params)
    .filter((k) => k !== 'signature')
    .sort()
    .map((k) => `${encodeURIComponent(k)}=${encodeURIComponent(params[k])}`)
    .join('&');
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

/** One /ws-api/v3 connection: requests answered in order, then the account's events. */
export class BinanceWsApiSession {
  private account: AuthenticatedAccount | null = null;
  private unsubscribe: (() => void) | null = null;
  private closed = false;
  private requests: Promise<void> = Promise.resolve();
  private events: Promise<void> = Promise.resolve();
  private readonly seen = new Map<string, OrderSeen>();

  constructor(
    private readonly client: WsClient,
    private readonly deps: WsApiDeps,
  ) {}

  onMessage(data: Buffer | ArrayBuffer | Buffer[]): Promise<void> {
    const next = this.requests.then(() => this.handle(data));
    this.requests = next.catch(() => undefined);
    return next;
  }

  close(): void {
    this.closed = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  private async handle(data: Buffer | ArrayBuffer | Buffer[]): Promise<void> {
    const text = Buffer.isBuffer(data)
      ? data.toString('utf8')
      : Array.isArray(data)
        ? Buffer.concat(data).toString('utf8')
        : Buffer.from(data).toString('utf8');
    let req: { id?: unknown; method?: unknown; params?: unknown };
    try {
      req = JSON.parse(text) as typeof req;
    } catch {
      return this.error(null, 400, BinanceCode.INVALID_PARAMETER, 'Malformed request.');
    }
    const id: RequestId =
      typeof req?.id === 'string' || typeof req?.id === 'number' ? (req.id as string | number) : null;
    const params = (req?.params ?? {}) as Record<string, unknown>;
    if (typeof params !== 'object' || Array.isArray(params))
      return this.error(id, 400, BinanceCode.INVALID_PARAMETER, "'params' must be an object.");
    switch (req.method) {
      case 'ping':
        return this.result(id, {});
      case 'time':
        return this.result(id, { serverTime: Date.now() });
      case 'userDataStream.subscribe.signature':
        return this.subscribe(id, params);
      case 'userDataStream.unsubscribe':
        this.unsubscribe?.();
        this.unsubscribe = null;
        return this.result(id, {});
      default:
        return this.error(
          id,
          400,
          BinanceCode.UNSUPPORTED_OPERATION,
          'Not offered here: this WebSocket API has ping, time, userDataStream.subscribe.signature and userDataStream.unsubscribe.',
        );
    }
  }

  private async subscribe(id: RequestId, raw: Record<string, unknown>): Promise<void> {
    if (this.unsubscribe) return this.result(id, { subscriptionId: 0 });
    try {
      const params: Record<string, string> = {};
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== 'string' && typeof v !== 'number')
          throw new BinanceError(BinanceCode.INVALID_PARAMETER, `Illegal value for parameter '${k}'.`);
        params[k] = String(v);
      }
      const { apiKey, timestamp, signature } = params;
      if (!apiKey || !timestamp || !signature || !/^[0-9]{1,15}$/.test(timestamp))
        throw new BinanceError(
          BinanceCode.MANDATORY_PARAM_EMPTY_OR_MALFORMED,
          "Mandatory parameters 'apiKey', 'timestamp' and 'signature' were not sent, were empty/null, or malformed.",
        );
      const recvWindow = recvWindowOf(
        BinanceParams.of(params.recvWindow ? `recvWindow=${params.recvWindow}` : '', ''),
      );
      const now = Date.now();
      if (!timestampWithin(Number(timestamp), recvWindow, now))
        throw new BinanceError(
          BinanceCode.INVALID_TIMESTAMP,
          'Timestamp for this request is outside of the recvWindow.',
        );
      const { account } = await this.deps.auth.admitCanonical(
        apiKey,
        signature,
        wsApiPayload(params),
        Math.ceil(recvWindow) + FUTURE_TOLERANCE_MS + 1000,
        now,
      );
      this.account = account;
      const unsubscribe = await this.deps.hub.subscribe(
        redisKeys.pubsub(redisKeys.orderChannel(account.accountId)),
        (m) => this.onOrderMessage(m),
      );
      if (this.closed) return unsubscribe();
      this.unsubscribe = unsubscribe;
      this.result(id, { subscriptionId: 0 });
    } catch (err) {
      const b = toBinanceError(err);
      this.error(id, b.status, b.code, b.msg);
    }
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
    if (!account || this.closed) return;
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

  private event(event: unknown): void {
    this.send({ subscriptionId: 0, event });
  }

  private result(id: RequestId, result: unknown): void {
    this.send({ id, status: 200, result });
  }

  private error(id: RequestId, status: number, code: number, msg: string): void {
    this.send({ id, status, error: { code, msg } });
  }

  private send(frame: unknown): void {
    if (this.closed || this.client.readyState !== WS_OPEN) return;
    if (this.client.bufferedAmount > 4 * 1024 * 1024) {
      this.client.close(1013, 'slow consumer');
      this.close();
      return;
    }
    this.client.send(JSON.stringify(frame));
  }
}

/** Binance's WebSocket API, the user data stream subscription only (what ccxt's watchOrders uses). */
@WebSocketGateway({ path: BINANCE_WS_API_PATH, maxPayload: 16 * 1024 })
export class BinanceWsApiGateway implements OnGatewayConnection, OnGatewayDisconnect {
  private readonly logger = new Logger(BinanceWsApiGateway.name);
  private readonly sessions = new Map<WsClient, BinanceWsApiSession>();
  private readonly deps: WsApiDeps;

  constructor(
    auth: ApiKeyAuthService,
    hub: StreamHub,
    queries: OrderQueriesRepository,
    outcomes: OrderOutcomesService,
    balances: BalancesService,
    markets: MarketLookupService,
    db: DatabaseService,
    private readonly metrics: GatewayMetrics,
  ) {
    this.deps = {
      auth,
      hub,
      findOrder: (accountId, orderId) => dbCall(db.dataSource, () => queries.findOwn(accountId, orderId)),
      fillsOf: (row, market, deadline) => outcomes.fillsOf(row, market, deadline),
      balances: async (account) => (await balances.balances(account)).balances,
      market: (symbol) => markets.find(symbol),
    };
  }

  handleConnection(client: WsClient): void {
    const session = new BinanceWsApiSession(client, this.deps);
    this.sessions.set(client, session);
    this.metrics.wsConnections.inc();
    client.on('message', (data) => {
      session
        .onMessage(data)
        .catch((err: unknown) => this.logger.warn(`ws-api request failed: ${(err as Error).message}`));
    });
  }

  handleDisconnect(client: WsClient): void {
    const session = this.sessions.get(client);
    if (!session) return;
    this.sessions.delete(client);
    session.close();
    this.metrics.wsConnections.dec();
  }
}
