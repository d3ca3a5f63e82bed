import type { IncomingMessage } from 'node:http';
import { Inject, Logger } from '@nestjs/common';
import { type OnGatewayConnection, type OnGatewayDisconnect, WebSocketGateway } from '@nestjs/websockets';
import type { MarketSpec } from '@trading/contracts';
import { TradesRepository } from '@trading/db';
import { DatabaseService, RedisService } from '@trading/nest-common';
import { type ApiGatewayConfig, GATEWAY_CONFIG } from '../api-gateway.config';
import { dbCall } from '../common/dependency-call';
import { GatewayMetrics } from '../common/gateway.metrics';
import type { WsClient } from '../stream/stream-message.schema';
import { StreamHub } from '../stream/stream-hub.service';
import { BinanceMarketService } from './binance-market.service';
import { UserDataSources } from './binance-user-stream';
import { BinanceWsSession, type BinanceWsDeps } from './binance-ws.session';
import {
  BINANCE_COMBINED_PATH,
  BINANCE_WS_PATH,
  klineFromSummary,
  type KlineState,
} from './binance-ws.streams';

/** The stream names a connection's URL asks for: /ws/<name> or /stream?streams=<a>/<b>. */
export function streamsOfUrl(url: string): string[] {
  const parsed = new URL(url, 'ws://localhost/');
  if (parsed.pathname.startsWith(`${BINANCE_WS_PATH}/`)) {
    const rest = parsed.pathname.slice(BINANCE_WS_PATH.length + 1);
    try {
      return rest ? [decodeURIComponent(rest)] : [];
    } catch {
      return [];
    }
  }
  if (parsed.pathname === BINANCE_COMBINED_PATH)
    return (parsed.searchParams.get('streams') ?? '').split('/').filter((s) => s.length > 0);
  return [];
}

/** What both Binance stream endpoints share: sessions, metrics and their dependencies. */
abstract class BinanceStreams implements OnGatewayConnection, OnGatewayDisconnect {
  private readonly logger = new Logger('BinanceStreams');
  private readonly sessions = new Map<WsClient, BinanceWsSession>();
  private readonly deps: BinanceWsDeps;

  constructor(
    hub: StreamHub,
    redis: RedisService,
    markets: BinanceMarketService,
    db: DatabaseService,
    trades: TradesRepository,
    private readonly metrics: GatewayMetrics,
    config: ApiGatewayConfig,
    userData: UserDataSources,
    private readonly combined: boolean,
  ) {
    this.deps = {
      hub,
      redis: redis.redis,
      market: (symbol) => markets.bySymbol().get(symbol),
      klineSeed: async (market: MarketSpec, start: number, ms: number): Promise<KlineState | null> => {
        const summary = await dbCall(db.dataSource, () =>
          trades.bucketSummary(market.symbol, new Date(start), new Date(start + ms)),
        );
        return summary ? klineFromSummary(summary, start, market) : null;
      },
      maxStreams: config.WS_MAX_SUBSCRIPTIONS,
      onSubscriptionCount: (delta) =>
        delta >= 0 ? this.metrics.wsSubscriptions.inc(delta) : this.metrics.wsSubscriptions.dec(-delta),
      userData: userData.deps,
    };
  }

  handleConnection(client: WsClient, request?: IncomingMessage): void {
    const session = new BinanceWsSession(client, this.deps, this.combined);
    this.sessions.set(client, session);
    this.metrics.wsConnections.inc();
    client.on('message', (data) => {
      session
        .onMessage(data)
        .catch((err: unknown) => this.logger.warn(`stream request failed: ${(err as Error).message}`));
    });
    void session.open(streamsOfUrl(request?.url ?? '/'));
  }

  handleDisconnect(client: WsClient): void {
    const session = this.sessions.get(client);
    if (!session) return;
    this.sessions.delete(client);
    session.close();
    this.metrics.wsConnections.dec();
  }
}

/** Binance raw streams: /ws/<streamName> or /ws/<listenKey>, or /ws/<anything> and SUBSCRIBE (as ccxt does). */
@WebSocketGateway({ path: BINANCE_WS_PATH, maxPayload: 16 * 1024 })
export class BinanceRawStreamGateway extends BinanceStreams {
  constructor(
    hub: StreamHub,
    redis: RedisService,
    markets: BinanceMarketService,
    db: DatabaseService,
    trades: TradesRepository,
    metrics: GatewayMetrics,
    @Inject(GATEWAY_CONFIG) config: ApiGatewayConfig,
    userData: UserDataSources,
  ) {
    super(hub, redis, markets, db, trades, metrics, config, userData, false);
  }
}

/** Binance combined streams: /stream?streams=<a>/<b> (a listenKey among them), each event as {stream, data}. */
@WebSocketGateway({ path: BINANCE_COMBINED_PATH, maxPayload: 16 * 1024 })
export class BinanceCombinedStreamGateway extends BinanceStreams {
  constructor(
    hub: StreamHub,
    redis: RedisService,
    markets: BinanceMarketService,
    db: DatabaseService,
    trades: TradesRepository,
    metrics: GatewayMetrics,
    @Inject(GATEWAY_CONFIG) config: ApiGatewayConfig,
    userData: UserDataSources,
  ) {
    super(hub, redis, markets, db, trades, metrics, config, userData, true);
  }
}
