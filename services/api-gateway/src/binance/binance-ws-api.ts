import { Logger } from '@nestjs/common';
import { type OnGatewayConnection, type OnGatewayDisconnect, WebSocketGateway } from '@nestjs/websockets';
import { OrderQueriesRepository } from '@trading/db';
import { DatabaseService } from '@trading/nest-common';
import { ApiKeyAuthService } from '../auth/api-key-auth.service';
import { GatewayMetrics } from '../common/gateway.metrics';
import { MarketLookupService } from '../markets/market-lookup.service';
import { BalancesService } from '../money/balances.service';
import { StreamHub } from '../stream/stream-hub.service';
import { WS_OPEN, type WsClient } from '../stream/stream-message.schema';
import { recvWindowOf, timestampWithin } from './binance-auth';
import { BinanceParams } from './binance-params';
import { BinanceCode, BinanceError, toBinanceError } from './binance.errors';
import { AccountEventFeed, type AccountEventDeps, accountEventDeps } from './binance-account-events';
import { OrderOutcomesService } from './order-outcomes.service';

// The part of Binance's WebSocket API (/ws-api/v3) that ccxt 4.5 needs for spot account events:
// `userDataStream.subscribe.signature` (how its watchOrders, watchMyTrades and watchBalance
// subscribe), `userDataStream.unsubscribe`, `ping`, `time`. The events are AccountEventFeed's
// (binance-account-events.ts), the same as the listenKey stream's.

export const BINANCE_WS_API_PATH = '/ws-api/v3';
const FUTURE_TOLERANCE_MS = 1000;

type RequestId = string | number | null;

export interface WsApiDeps extends AccountEventDeps {
  auth: ApiKeyAuthService;
}

/** The signed payload of a WebSocket API request: its parameters but signature, sorted, URL-encoded. */
export function wsApiPayload(params: Record<string, string>): string {
  return Object.keys(params)
    .filter((k) => k !== 'signature')
    .sort()
    .map((k) => `${encodeURIComponent(k)}=${encodeURIComponent(params[k])}`)
    .join('&');
}

/** One /ws-api/v3 connection: requests answered in order, then the account's events. */
export class BinanceWsApiSession {
  private feed: AccountEventFeed | null = null;
  private closed = false;
  private requests: Promise<void> = Promise.resolve();

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
    this.feed?.stop();
    this.feed = null;
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
        this.feed?.stop();
        this.feed = null;
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
    if (this.feed) return this.result(id, { subscriptionId: 0 });
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
      const feed = new AccountEventFeed(this.deps, account, (event) => this.event(event));
      await feed.start();
      if (this.closed) return feed.stop();
      this.feed = feed;
      this.result(id, { subscriptionId: 0 });
    } catch (err) {
      const b = toBinanceError(err);
      this.error(id, b.status, b.code, b.msg);
    }
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
    this.deps = { auth, ...accountEventDeps(hub, queries, outcomes, balances, markets, db) };
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
