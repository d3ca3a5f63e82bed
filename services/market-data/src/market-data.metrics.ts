import { Injectable } from '@nestjs/common';
import type { Counter, Histogram } from 'prom-client';
import {
  BATCH_SIZE_BUCKETS,
  DB_DURATION_BUCKETS_SECONDS,
  MetricsRegistry,
  PIPELINE_DURATION_BUCKETS_SECONDS,
  REDIS_DURATION_BUCKETS_SECONDS,
} from '@trading/metrics';
import { consumerMetrics, type ConsumerMetrics } from '@trading/kafka';

/** Every market-data metric, registered once. Symbol labels are bounded by the market list. */
@Injectable()
export class MarketDataMetrics {
  readonly tradesPersisted: Counter<'symbol'>;
  readonly dbBatchRows: Histogram;
  readonly dbWriteDuration: Histogram<'outcome'>;
  readonly dbQueryDuration: Histogram<'query' | 'outcome'>;
  readonly redisDuration: Histogram<'op' | 'outcome'>;
  readonly tradePersisted: Histogram;
  readonly redisUpdates: Counter<'channel' | 'outcome'>;
  readonly unknownSymbol: Counter<'symbol'>;
  /** The executions consumer's batch size, lag, dead letters and retries. */
  readonly consumer: ConsumerMetrics;

  constructor(registry: MetricsRegistry) {
    this.tradesPersisted = registry.counter(
      'market_data_trades_persisted_total',
      'Trades newly written to the trades table (replays not counted)',
      ['symbol'],
    );
    this.dbBatchRows = registry.histogram(
      'market_data_db_batch_rows',
      'Trade rows per batched INSERT',
      BATCH_SIZE_BUCKETS,
    );
    this.dbWriteDuration = registry.histogram(
      'market_data_db_write_duration_seconds',
      'Duration of one batched trades INSERT through PgBouncer',
      DB_DURATION_BUCKETS_SECONDS,
      ['outcome'],
    );
    this.dbQueryDuration = registry.histogram(
      'market_data_db_query_duration_seconds',
      'Duration of market-data read queries (24 h ticker)',
      DB_DURATION_BUCKETS_SECONDS,
      ['query', 'outcome'],
    );
    this.redisDuration = registry.histogram(
      'market_data_redis_duration_seconds',
      'Duration of one Redis snapshot+publish script or read',
      REDIS_DURATION_BUCKETS_SECONDS,
      ['op', 'outcome'],
    );
    this.tradePersisted = registry.histogram(
      'pipeline_trade_persisted_seconds',
      'Gateway receipt of the command to its trade committed in the database',
      PIPELINE_DURATION_BUCKETS_SECONDS,
    );
    this.redisUpdates = registry.counter(
      'market_data_stream_messages_total',
      'Snapshot updates published (ok) or skipped as already applied (duplicate)',
      ['channel', 'outcome'],
    );
    this.unknownSymbol = registry.counter(
      'market_data_unknown_symbol_total',
      'Executions for a symbol missing from the market catalog (Redis feeds skipped)',
      ['symbol'],
    );
    this.consumer = consumerMetrics(registry, {
      batch: { name: 'market_data_consumed_batch_records', help: 'Records per consumed partition batch' },
      lag: {
        name: 'market_data_consumer_lag_records',
        help: 'Records behind the partition end after the last consumed batch',
      },
      deadLetters: {
        name: 'market_data_dead_letters_total',
        help: 'Records sent to the dead-letter topic',
        reason: true,
      },
    });
  }
}
