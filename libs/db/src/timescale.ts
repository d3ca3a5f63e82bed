import type { QueryRunner } from 'typeorm';

export const CANDLE_INTERVALS = {
  '1m': '1 minute',
  '5m': '5 minutes',
  '1h': '1 hour',
  '1d': '1 day',
} as const;
export type CandleInterval = keyof typeof CANDLE_INTERVALS;

/** True when the TimescaleDB extension is installed or can be created in this database. */
export async function hasTimescale(q: QueryRunner): Promise<boolean> {
  const rows = (await q.query(
    `SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'`,
  )) as unknown[];
  if (rows.length === 0) return false;
  await q.query(`CREATE EXTENSION IF NOT EXISTS timescaledb`);
  return true;
}

/**
 * TimescaleDB: hypertables for trades and order events, OHLCV candles as hierarchical
 * continuous aggregates (1m from trades, 5m/1h/1d from 1m) with real-time aggregation,
 * compression and retention. Retention (90 d) is far longer than any refresh window (<= 3 d).
 */
export function timescaleSql(): string[] {
  return [
    `SELECT create_hypertable('trades', by_range('executed_at', INTERVAL '1 day'))`,
    `SELECT create_hypertable('order_events', by_range('emitted_at', INTERVAL '1 day'))`,
    `CREATE MATERIALIZED VIEW candles_1m WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
       SELECT symbol, time_bucket(INTERVAL '1 minute', executed_at) AS bucket,
              first(price, seq) AS open, max(price) AS high, min(price) AS low, last(price, seq) AS close,
              sum(qty) AS volume, count(*) AS trades
       FROM trades GROUP BY symbol, bucket WITH NO DATA`,
    ...(['5m', '1h', '1d'] as const).map(
      (
        i,
      ) => `CREATE MATERIALIZED VIEW candles_${i} WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
       SELECT symbol, time_bucket(INTERVAL '${CANDLE_INTERVALS[i]}', bucket) AS bucket,
              first(open, bucket) AS open, max(high) AS high, min(low) AS low, last(close, bucket) AS close,
              sum(volume) AS volume, sum(trades) AS trades
       FROM candles_1m GROUP BY symbol, time_bucket(INTERVAL '${CANDLE_INTERVALS[i]}', bucket) WITH NO DATA`,
    ),
    `SELECT add_continuous_aggregate_policy('candles_1m', start_offset => INTERVAL '1 hour', end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute')`,
    `SELECT add_continuous_aggregate_policy('candles_5m', start_offset => INTERVAL '3 hours', end_offset => INTERVAL '5 minutes', schedule_interval => INTERVAL '5 minutes')`,
    `SELECT add_continuous_aggregate_policy('candles_1h', start_offset => INTERVAL '1 day', end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '1 hour')`,
    `SELECT add_continuous_aggregate_policy('candles_1d', start_offset => INTERVAL '3 days', end_offset => INTERVAL '1 day', schedule_interval => INTERVAL '1 day')`,
    `ALTER TABLE trades SET (timescaledb.compress, timescaledb.compress_segmentby = 'symbol', timescaledb.compress_orderby = 'executed_at DESC, seq DESC')`,
    `SELECT add_compression_policy('trades', INTERVAL '7 days')`,
    `ALTER TABLE order_events SET (timescaledb.compress, timescaledb.compress_segmentby = 'symbol', timescaledb.compress_orderby = 'emitted_at DESC, seq DESC')`,
    `SELECT add_compression_policy('order_events', INTERVAL '7 days')`,
    `SELECT add_retention_policy('trades', INTERVAL '90 days')`,
    `SELECT add_retention_policy('order_events', INTERVAL '90 days')`,
  ];
}

/**
 * Plain PostgreSQL: the same relations (`candles_1m` ... `candles_1d`, same columns, same
 * hierarchy) as ordinary views computed on read, so the API's SQL is identical.
 */
export function candleViewsSql(): string[] {
  return [
    `CREATE VIEW candles_1m AS
       SELECT symbol, date_bin(INTERVAL '1 minute', executed_at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
              (array_agg(price ORDER BY seq))[1] AS open, max(price) AS high, min(price) AS low,
              (array_agg(price ORDER BY seq DESC))[1] AS close, sum(qty)::bigint AS volume, count(*) AS trades
       FROM trades GROUP BY 1, 2`,
    ...(['5m', '1h', '1d'] as const).map(
      (i) => `CREATE VIEW candles_${i} AS
       SELECT symbol, date_bin(INTERVAL '${CANDLE_INTERVALS[i]}', bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
              (array_agg(open ORDER BY bucket))[1] AS open, max(high) AS high, min(low) AS low,
              (array_agg(close ORDER BY bucket DESC))[1] AS close, sum(volume)::bigint AS volume, sum(trades)::bigint AS trades
       FROM candles_1m GROUP BY 1, 2`,
    ),
  ];
}
