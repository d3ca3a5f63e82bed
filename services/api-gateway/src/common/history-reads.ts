import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import {
  BalancesRepository,
  CandlesRepository,
  createDataSource,
  HistoryReadRouter,
  OrderQueriesRepository,
  TradesRepository,
  type HistoryReadKind,
} from '@trading/db';
import { MetricsRegistry } from '@trading/metrics';
import { DatabaseService } from '@trading/nest-common';
import { type ApiGatewayConfig, GATEWAY_CONFIG } from '../api-gateway.config';

/** The repositories a history read may use, over one server. */
export interface HistoryRepositories {
  candles: CandlesRepository;
  trades: TradesRepository;
  orders: OrderQueriesRepository;
  balances: BalancesRepository;
}

/**
 * History reads (candles, public trades, order history, fills, ledger) on the PostgreSQL replica
 * (DATABASE_REPLICA_NAME, PgBouncer's database on it) while its lag is within
 * DATABASE_REPLICA_MAX_LAG_MS, else on the primary (@trading/db HistoryReadRouter). Without
 * DATABASE_REPLICA_NAME every read goes to the primary. Writes and read-your-own-writes (an order,
 * open orders, balances) never come here.
 */
@Injectable()
export class HistoryReads implements OnModuleInit, OnApplicationShutdown {
  readonly router: HistoryReadRouter;
  private readonly logger = new Logger(HistoryReads.name);
  private readonly onPrimary: HistoryRepositories;
  private readonly onReplica: HistoryRepositories | null;

  constructor(
    @Inject(GATEWAY_CONFIG) config: ApiGatewayConfig,
    database: DatabaseService,
    metrics: MetricsRegistry,
    candles: CandlesRepository,
    trades: TradesRepository,
    orders: OrderQueriesRepository,
    balances: BalancesRepository,
  ) {
    const replica = config.DATABASE_REPLICA_NAME
      ? createDataSource(
          { ...config, DATABASE_NAME: config.DATABASE_REPLICA_NAME },
          { applicationName: 'api-gateway-replica' },
        )
      : null;
    this.onPrimary = { candles, trades, orders, balances };
    this.onReplica = replica
      ? {
          candles: new CandlesRepository(replica),
          trades: new TradesRepository(replica),
          orders: new OrderQueriesRepository(replica),
          balances: new BalancesRepository(replica),
        }
      : null;
    const lagSeconds = metrics.gauge(
      'db_replica_lag_seconds',
      'How long ago the primary wrote the oldest WAL the replica has not replayed (probed every second)',
    );
    const lagBytes = metrics.gauge('db_replica_lag_bytes', 'WAL bytes the replica has not replayed yet');
    const up = metrics.gauge(
      'db_replica_up',
      '1 when the last probe found the replica answering as a standby',
    );
    const reads = metrics.counter(
      'db_history_reads_total',
      'History reads by kind and by the server that answered',
      ['kind', 'server'],
    );
    this.router = new HistoryReadRouter(database.dataSource, replica, {
      maxLagMs: config.DATABASE_REPLICA_MAX_LAG_MS,
      metrics: {
        lag: (lag) => {
          up.set(lag ? 1 : 0);
          if (lag) {
            lagSeconds.set(lag.seconds);
            lagBytes.set(lag.bytes);
          }
        },
        read: (kind, server) => reads.inc({ kind, server }),
      },
      onSwitch: (server, why) =>
        server === 'replica'
          ? this.logger.log(`history reads on the replica (${why})`)
          : this.logger.warn(`history reads on the primary: ${why}`),
    });
  }

  onModuleInit(): void {
    this.router.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.router.stop();
  }

  /** Runs a history read on the repositories of the server the router picks now. */
  read<T>(kind: HistoryReadKind, fn: (repos: HistoryRepositories) => Promise<T>): Promise<T> {
    return this.router.read(kind, (db) =>
      fn(db === this.router.replica && this.onReplica ? this.onReplica : this.onPrimary),
    );
  }
}
