import { Inject, Logger } from '@nestjs/common';
import { type OnGatewayConnection, type OnGatewayDisconnect, WebSocketGateway } from '@nestjs/websockets';
import { RedisService } from '@trading/nest-common';
import { type ApiGatewayConfig, GATEWAY_CONFIG } from '../api-gateway.config';
import { ApiKeyAuthService } from '../auth/api-key-auth.service';
import { GatewayMetrics } from '../common/gateway.metrics';
import { MarketLookupService } from '../markets/market-lookup.service';
import { AccountStreamViews } from './account-stream.views';
import type { WsClient } from './stream-message.schema';
import { StreamHub } from './stream-hub.service';
import { StreamSession } from './stream.session';

/** WebSocket /v1/stream: public depth/trades/ticker channels and the caller's own orders. */
@WebSocketGateway({ path: '/v1/stream', maxPayload: 16 * 1024 })
export class StreamGateway implements OnGatewayConnection, OnGatewayDisconnect {
  private readonly logger = new Logger(StreamGateway.name);
  private readonly sessions = new Map<WsClient, StreamSession>();

  constructor(
    private readonly hub: StreamHub,
    private readonly redis: RedisService,
    private readonly auth: ApiKeyAuthService,
    private readonly markets: MarketLookupService,
    private readonly metrics: GatewayMetrics,
    private readonly accountViews: AccountStreamViews,
    @Inject(GATEWAY_CONFIG) private readonly config: ApiGatewayConfig,
  ) {}

  handleConnection(client: WsClient): void {
    const session = new StreamSession(client, {
      hub: this.hub,
      redis: this.redis.redis,
      auth: this.auth,
      markets: this.markets,
      accountViews: this.accountViews,
      maxSubscriptions: this.config.WS_MAX_SUBSCRIPTIONS,
      onSubscriptionCount: (delta) =>
        delta >= 0 ? this.metrics.wsSubscriptions.inc(delta) : this.metrics.wsSubscriptions.dec(-delta),
    });
    this.sessions.set(client, session);
    this.metrics.wsConnections.inc();
    client.on('message', (data) => {
      session
        .onMessage(data)
        .catch((err: unknown) => this.logger.warn(`stream message failed: ${(err as Error).message}`));
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
