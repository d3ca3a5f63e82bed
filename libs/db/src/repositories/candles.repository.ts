import { CANDLE_INTERVALS, type CandleInterval } from '../timescale';

/** What the repositories need of a connection: TypeORM's DataSource, or a test double over PGlite. */
export interface SqlQueryable {
  query(sql: string, params?: unknown[]): Promise<unknown>;
}

/** One OHLCV candle; prices in integer ticks and volume in integer lots, as exact decimal strings. */
export interface Candle {
  /** Start of the bucket (UTC-aligned). */
  bucket: Date;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
  trades: number;
}

interface CandleRow {
  bucket: Date | string;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
  trades: string;
}

export const MAX_CANDLES = 1000;

/**
 * Reads `candles_<interval>`: continuous aggregates on TimescaleDB, plain views on PostgreSQL,
 * same relation names and columns, so this SQL is the same on both.
 */
export class CandlesRepository {
  constructor(private readonly db: SqlQueryable) {}

  /**
   * Candles whose bucket starts in [from, to), oldest first; when more than `limit` match, the
   * newest `limit` (a chart wants the recent end).
   */
  async find(
    symbol: string,
    interval: CandleInterval,
    from: Date,
    to: Date,
    limit: number,
  ): Promise<Candle[]> {
    // The relation name cannot be a parameter: only the whitelisted intervals reach the SQL.
    if (!Object.prototype.hasOwnProperty.call(CANDLE_INTERVALS, interval)) {
      throw new Error(`unknown candle interval ${String(interval)}`);
    }
    const n = Math.max(1, Math.min(Math.trunc(limit), MAX_CANDLES));
    // ::text keeps bigint/numeric exact whichever driver parses the result.
    const rows = (await this.db.query(
      `SELECT bucket, open::text AS open, high::text AS high, low::text AS low, close::text AS close,
              volume::text AS volume, trades::text AS trades
       FROM candles_${interval}
       WHERE symbol = $1 AND bucket >= $2 AND bucket < $3
       ORDER BY bucket DESC
       LIMIT $4`,
      [symbol, from.toISOString(), to.toISOString(), n],
    )) as CandleRow[];
    return rows.reverse().map((r) => ({
      bucket: r.bucket instanceof Date ? r.bucket : new Date(r.bucket),
      open: r.open,
      high: r.high,
      low: r.low,
      close: r.close,
      volume: r.volume,
      trades: Number(r.trades),
    }));
  }
}
