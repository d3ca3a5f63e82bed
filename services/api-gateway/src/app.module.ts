import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import {
  PlatformModule,
  kafkaProviders,
  KAFKA_READY,
  databaseProviders,
  DATABASE_READY,
  redisProviders,
  REDIS_READY,
  MarketCatalogService,
} from '@trading/nest-common';
import { type ApiGatewayConfig, decodeEncryptionKey, GATEWAY_CONFIG } from './api-gateway.config';
import { ApiKeyAuthService } from './auth/api-key-auth.service';
import { ApiKeyGuard } from './auth/api-key.guard';
import { BinanceMarketController } from './binance/binance-market.controller';
import { BinanceMarketService } from './binance/binance-market.service';
import { BinanceSignedGuard } from './binance/binance-auth';
import { BinanceCombinedStreamGateway, BinanceRawStreamGateway } from './binance/binance-ws.gateway';
import { BinanceWsApiGateway } from './binance/binance-ws-api';
import { BinanceTradingController } from './binance/binance-trading.controller';
import { BinanceTradingService } from './binance/binance-trading.service';
import {
  BinanceApiKeyGuard,
  BinanceUserStreamController,
  ListenKeyStore,
  UserDataSources,
} from './binance/binance-user-stream';
import { OrderOutcomesService } from './binance/order-outcomes.service';
import { SecretCipher } from './auth/secret.cipher';
import { GatewayMetrics } from './common/gateway.metrics';
import { repositoryProviders } from './common/repositories';
import { HistoryReads } from './common/history-reads';
import { GatewayExceptionFilter } from './errors/gateway-exception.filter';
import { MarketDataService } from './markets/market-data.service';
import { MarketLookupService } from './markets/market-lookup.service';
import { MarketsController } from './markets/markets.controller';
import { FillsController } from './orders/fills.controller';
import { OrderQueriesService } from './orders/order-queries.service';
import { OrdersController } from './orders/orders.controller';
import { OrdersService } from './orders/orders.service';
import { AccountEventsConsumer } from './stream/account-events.consumer';
import { AccountStreamViews } from './stream/account-stream.views';
import { StreamHub } from './stream/stream-hub.service';
import { StreamGateway } from './stream/stream.gateway';
import { BalancesController } from './money/balances.controller';
import { BalancesService } from './money/balances.service';
import { OperatorController } from './operator/operator.controller';
import { OperatorGuard } from './operator/operator.guard';
import { OperatorService } from './operator/operator.service';

// Connects and metadata refreshes give up within ~1.5 s when the broker refuses: an order during
// a Kafka outage gets its 503 fast, and nothing queued is delivered after the client was told no.
const GATEWAY_KAFKA_RETRY = { initialRetryTime: 100, retries: 3, maxRetryTime: 1000 };

@Module({})
export class AppModule {
  static forRoot(config: ApiGatewayConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PlatformModule.forRoot({
          service: 'api-gateway',
          instance: config.INSTANCE_ID,
          logLevel: config.LOG_LEVEL,
          infra: [
            ...kafkaProviders(config, 'api-gateway', GATEWAY_KAFKA_RETRY),
            ...databaseProviders(config),
            // Per request step one command: auto-pipelining costs more than it saves here; the
            // commands of one loop turn still share a write.
            ...redisProviders(config, { autoPipelining: false, coalesceWrites: true }),
          ],
          readiness: [KAFKA_READY, DATABASE_READY, REDIS_READY],
        }),
      ],
      controllers: [
        OrdersController,
        FillsController,
        MarketsController,
        BalancesController,
        OperatorController,
        BinanceMarketController,
        BinanceTradingController,
        BinanceUserStreamController,
      ],
      providers: [
        { provide: GATEWAY_CONFIG, useValue: config },
        {
          provide: SecretCipher,
          useFactory: () => new SecretCipher(decodeEncryptionKey(config.API_KEY_ENCRYPTION_KEY)),
        },
        { provide: APP_FILTER, useClass: GatewayExceptionFilter },
        // Repositories over the pooled data source; services get them injected (tests replace them).
        ...repositoryProviders,
        // History reads on the PostgreSQL replica when DATABASE_REPLICA_NAME is set.
        HistoryReads,
        MarketCatalogService,
        MarketLookupService,
        GatewayMetrics,
        ApiKeyAuthService,
        ApiKeyGuard,
        OrdersService,
        OrderQueriesService,
        MarketDataService,
        StreamHub,
        AccountStreamViews,
        AccountEventsConsumer,
        StreamGateway,
        BalancesService,
        OperatorGuard,
        OperatorService,
        BinanceMarketService,
        BinanceSignedGuard,
        BinanceTradingService,
        OrderOutcomesService,
        BinanceRawStreamGateway,
        BinanceCombinedStreamGateway,
        BinanceWsApiGateway,
        BinanceApiKeyGuard,
        ListenKeyStore,
        UserDataSources,
      ],
    };
  }
}
