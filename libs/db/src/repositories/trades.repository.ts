import type { SqlQueryable } from './candles.repository';

/** One trade as market-data writes it: prices in ticks, quantities in lots. */
export interface TradeInsert {
  symbol: string;
  seq: number;
  price: number;
  qty: number;
  makerOrderId: string;
  takerOrderId: string;
  makerAccountId: string;
  takerAccountId: string;
  takerSide: 'buy' | 'sell';
  receivedAt: Date;
  /** The execution record's emittedAt: part of the natural key (symbol, seq, executed_at). */
  executedAt: Date;
}

export interface TradeRecord extends TradeInsert {
  tradeId: string;
}

/** One minute of one symbol's trades (ticks, lots), as the database aggregates it. */
export interface MinuteBucket {
  /** Start of the minute, epoch ms. */
  minute: number;
  openSeq: number;
  open: bigint;
  closeSeq: number;
  close: bigint;
  high: bigint;
  low: bigint;
  /** Lots. */
  volume: bigint;
  /** Ticks x lots. */
  quoteVolume: bigint;
  trades: number;
}

/** Per-minute trade aggregates and the last trade (see TradesRepository.tickerSeed). */
export interface TickerSeed {
  buckets: MinuteBucket[];
  lastTrade: { seq: number; price: bigint } | null;
}

/** 24 h statistics of one symbol in ticks and lots (exact strings); null prices when no trade. */
export interface TickerStats {
  open: string | null;
  high: string | null;
  low: string | null;
  /** Last trade ever, even when older than the window. */
  last: string | null;
  /** Lots traded in the window. */
  volume: string;
  /** Sum of price x qty in the window, in ticks x lots. */
  quoteVolume: string;
  trades: number;
}

/** One side of a trade seen from one account (a self-trade gives two fills). */
export interface AccountFill {
  symbol: string;
  seq: number;
  tradeId: string;
  orderId: string;
  side: 'buy' | 'sell';
  liquidity: 'maker' | 'taker';
  price: number;
  qty: number;
  executedAt: Date;
}

/** An account's fill once the order-router settled it, with the fee it was charged. */
export interface SettledFill extends AccountFill {
  /** The fee in the quote asset's smallest units (the ledger's fee entry of this fill). */
  fee: bigint;
}

/** Which of one symbol's trades (settledFills, range): from a seq, within times, or the newest. */
export interface TradeRangeQuery {
  /** Trades with seq >= fromSeq, oldest first. */
  fromSeq?: number;
  /** executed_at within [start, end] (either bound optional). */
  start?: Date;
  end?: Date;
  limit: number;
}

/** Quote volume and the taker-buy share of one time bucket (ticks x lots, lots: exact strings). */
export interface BucketVolumes {
  quoteVolume: string;
  takerBuyVolume: string;
  takerBuyQuoteVolume: string;
}

/** The trades of one bucket in one row: prices in ticks, quantities in lots, notionals in ticks x lots. */
export interface BucketSummary {
  trades: number;
  firstSeq: number;
  lastSeq: number;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
  quoteVolume: string;
  takerBuyVolume: string;
  takerBuyQuoteVolume: string;
}

export interface AccountFillsQuery {
  symbol?: string;
  /** Opaque, from a previous page's `nextCursor`. */
  cursor?: string;
  limit: number;
}

export interface AccountFillsPage {
  fills: AccountFill[];
  nextCursor: string | null;
}

interface FillCursor {
  executedAt: Date;
  symbol: string;
  seq: number;
  liquidity: 'maker' | 'taker';
}

interface TradeDbRow {
  symbol: string;
  seq: string;
  price: string;
  qty: string;
  maker_order_id: string;
  taker_order_id: string;
  maker_account_id: string;
  taker_account_id: string;
  taker_side: 'buy' | 'sell';
  received_at: Date | string;
  executed_at: Date | string;
}

interface FillDbRow {
  symbol: string;
  seq: string;
  order_id: string;
  side: 'buy' | 'sell';
  liquidity: 'maker' | 'taker';
  price: string;
  qty: string;
  executed_at: Date | string;
}

export const MAX_TRADES_PAGE = 1000;

/** bigint columns arrive as strings; ticks, lots and seqs are within 2^53 by contract. */
function safeInt(value: string | number, what: string): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(n)) throw new RangeError(`${what} ${String(value)} is not a safe integer`);
  return n;
}

function toDate(value: Date | string): Date {
  return value instanceof Date ? value : new Date(value);
}

function toTradeRecord(r: TradeDbRow): TradeRecord {
  return {
    tradeId: `${r.symbol}:${r.seq}`,
    symbol: r.symbol,
    seq: safeInt(r.seq, 'seq'),
    price: safeInt(r.price, 'price'),
    qty: safeInt(r.qty, 'qty'),
    makerOrderId: r.maker_order_id,
    takerOrderId: r.taker_order_id,
    makerAccountId: r.maker_account_id,
    takerAccountId: r.taker_account_id,
    takerSide: r.taker_side,
    receivedAt: toDate(r.received_at),
    executedAt: toDate(r.executed_at),
  };
}

function clampLimit(limit: number): number {
  return Math.max(1, Math.min(Math.trunc(limit) || 1, MAX_TRADES_PAGE));
}

/** Encodes the position after a fill; the gateway hands it back verbatim. */
export function encodeFillCursor(
  f: Pick<AccountFill, 'executedAt' | 'symbol' | 'seq' | 'liquidity'>,
): string {
  return Buffer.from(JSON.stringify([f.executedAt.getTime(), f.symbol, f.seq, f.liquidity])).toString(
    'base64url',
  );
}

/** The cursor's position, or null when it is not one of ours. */
export function decodeFillCursor(cursor: string): FillCursor | null {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (!Array.isArray(v) || v.length !== 4) return null;
    const [ms, symbol, seq, liquidity] = v as unknown[];
    if (!Number.isSafeInteger(ms) || typeof symbol !== 'string' || !Number.isSafeInteger(seq)) return null;
    // A symbol as the markets table has them: nothing else (a NUL, say) may reach the query.
    if (!/^[A-Z0-9]{2,12}-[A-Z0-9]{2,12}$/.test(symbol)) return null;
    if (liquidity !== 'maker' && liquidity !== 'taker') return null;
    return { executedAt: new Date(ms as number), symbol, seq: seq as number, liquidity };
  } catch {
    return null;
  }
}

/** The trades hypertable; the only place that speaks SQL about trades. */
export class TradesRepository {
  constructor(private readonly db: SqlQueryable) {}

  /**
   * Writes a batch in one statement (unnest of column arrays, so any batch size is one round
   * trip with 11 parameters and no named prepared statement); replays are no-ops. Returns the
   * keys actually inserted.
   */
  async insertBatch(trades: readonly TradeInsert[]): Promise<{ symbol: string; seq: number }[]> {
    if (trades.length === 0) return [];
    const rows = (await this.db.query(
      `INSERT INTO trades (symbol, seq, price, qty, maker_order_id, taker_order_id, maker_account_id,
                           taker_account_id, taker_side, received_at, executed_at)
       SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[],
                            $7::text[], $8::text[], $9::text[], $10::timestamptz[], $11::timestamptz[])
       ON CONFLICT DO NOTHING
       RETURNING symbol, seq::text AS seq`,
      [
        trades.map((t) => t.symbol),
        trades.map((t) => String(t.seq)),
        trades.map((t) => String(t.price)),
        trades.map((t) => String(t.qty)),
        trades.map((t) => t.makerOrderId),
        trades.map((t) => t.takerOrderId),
        trades.map((t) => t.makerAccountId),
        trades.map((t) => t.takerAccountId),
        trades.map((t) => t.takerSide),
        trades.map((t) => t.receivedAt.toISOString()),
        trades.map((t) => t.executedAt.toISOString()),
      ],
    )) as { symbol: string; seq: string }[];
    return rows.map((r) => ({ symbol: r.symbol, seq: safeInt(r.seq, 'seq') }));
  }

  /** The symbol's newest trades, newest first. */
  async recent(symbol: string, limit: number): Promise<TradeRecord[]> {
    const rows = (await this.db.query(
      `SELECT symbol, seq::text AS seq, price::text AS price, qty::text AS qty, maker_order_id, taker_order_id,
              maker_account_id, taker_account_id, taker_side, received_at, executed_at
       FROM trades WHERE symbol = $1
       ORDER BY executed_at DESC, seq DESC
       LIMIT $2`,
      [symbol, clampLimit(limit)],
    )) as TradeDbRow[];
    return rows.map(toTradeRecord);
  }

  /**
   * An account's fills, both as maker and as taker, newest first, paginated by the position
   * (executed_at, symbol, seq, liquidity): seq alone is only unique within a symbol.
   * Throws RangeError on a cursor that is not ours.
   */
  async forAccount(accountId: string, query: AccountFillsQuery): Promise<AccountFillsPage> {
    const after = query.cursor === undefined ? null : decodeFillCursor(query.cursor);
    if (query.cursor !== undefined && after === null) throw new RangeError('invalid cursor');
    const limit = clampLimit(query.limit);
    // Each branch uses its own account index; the outer WHERE is pushed into both.
    const rows = (await this.db.query(
      `SELECT symbol, seq::text AS seq, order_id, side, liquidity, price::text AS price, qty::text AS qty, executed_at
       FROM (
         SELECT symbol, seq, maker_order_id AS order_id,
                CASE taker_side WHEN 'buy' THEN 'sell' ELSE 'buy' END AS side, 'maker' AS liquidity,
                price, qty, executed_at
         FROM trades WHERE maker_account_id = $1
         UNION ALL
         SELECT symbol, seq, taker_order_id, taker_side, 'taker', price, qty, executed_at
         FROM trades WHERE taker_account_id = $1
       ) f
       WHERE ($2::text IS NULL OR symbol = $2)
         AND ($3::timestamptz IS NULL OR (executed_at, symbol, seq, liquidity) < ($3::timestamptz, $4::text, $5::bigint, $6::text))
       ORDER BY executed_at DESC, symbol DESC, seq DESC, liquidity DESC
       LIMIT $7`,
      [
        accountId,
        query.symbol ?? null,
        after ? after.executedAt.toISOString() : null,
        after ? after.symbol : null,
        after ? String(after.seq) : null,
        after ? after.liquidity : null,
        limit + 1,
      ],
    )) as FillDbRow[];
    const fills = rows.slice(0, limit).map((r) => {
      const seq = safeInt(r.seq, 'seq');
      return {
        symbol: r.symbol,
        seq,
        tradeId: `${r.symbol}:${seq}`,
        orderId: r.order_id,
        side: r.side,
        liquidity: r.liquidity,
        price: safeInt(r.price, 'price'),
        qty: safeInt(r.qty, 'qty'),
        executedAt: toDate(r.executed_at),
      };
    });
    const last = fills[fills.length - 1];
    return { fills, nextCursor: rows.length > limit && last ? encodeFillCursor(last) : null };
  }

  /**
   * Per-minute aggregates of one symbol's trades since `since`, and its last trade ever: the
   * seed of market-data's rolling ticker. Open and close follow the engine's seq (the true order
   * of trades within a symbol).
   */
  async tickerSeed(symbol: string, since: Date): Promise<TickerSeed> {
    const buckets = (await this.db.query(
      `SELECT (extract(epoch FROM date_trunc('minute', executed_at)) * 1000)::bigint::text AS minute,
              min(seq)::text AS open_seq, max(seq)::text AS close_seq,
              (array_agg(price ORDER BY seq ASC))[1]::text AS open,
              (array_agg(price ORDER BY seq DESC))[1]::text AS close,
              max(price)::text AS high, min(price)::text AS low,
              sum(qty)::text AS volume, sum(price::numeric * qty)::text AS quote_volume,
              count(*)::text AS trades
       FROM trades WHERE symbol = $1 AND executed_at >= $2
       GROUP BY 1`,
      [symbol, since.toISOString()],
    )) as Record<
      | 'minute'
      | 'open_seq'
      | 'close_seq'
      | 'open'
      | 'close'
      | 'high'
      | 'low'
      | 'volume'
      | 'quote_volume'
      | 'trades',
      string
    >[];
    const last = (await this.db.query(
      `SELECT seq::text AS seq, price::text AS price FROM trades WHERE symbol = $1 ORDER BY seq DESC LIMIT 1`,
      [symbol],
    )) as { seq: string; price: string }[];
    return {
      buckets: buckets.map((b) => ({
        minute: safeInt(b.minute, 'minute'),
        openSeq: safeInt(b.open_seq, 'open_seq'),
        open: BigInt(b.open),
        closeSeq: safeInt(b.close_seq, 'close_seq'),
        close: BigInt(b.close),
        high: BigInt(b.high),
        low: BigInt(b.low),
        volume: BigInt(b.volume),
        quoteVolume: BigInt(b.quote_volume),
        trades: safeInt(b.trades, 'trades'),
      })),
      lastTrade: last[0] ? { seq: safeInt(last[0].seq, 'seq'), price: BigInt(last[0].price) } : null,
    };
  }

  /**
   * One symbol's trades, oldest first: from a seq or a start time on, or within [start, end], or
   * (with none of these) the newest `limit`.
   */
  async range(symbol: string, q: TradeRangeQuery): Promise<TradeRecord[]> {
    const fromStart = q.fromSeq !== undefined || q.start !== undefined;
    const rows = (await this.db.query(
      `SELECT symbol, seq::text AS seq, price::text AS price, qty::text AS qty, maker_order_id, taker_order_id,
              maker_account_id, taker_account_id, taker_side, received_at, executed_at
       FROM trades
       WHERE symbol = $1 AND ($2::bigint IS NULL OR seq >= $2)
         AND ($3::timestamptz IS NULL OR executed_at >= $3) AND ($4::timestamptz IS NULL OR executed_at <= $4)
       ORDER BY ${fromStart ? 'executed_at ASC, seq ASC' : 'executed_at DESC, seq DESC'}
       LIMIT $5`,
      [
        symbol,
        q.fromSeq === undefined ? null : String(q.fromSeq),
        q.start?.toISOString() ?? null,
        q.end?.toISOString() ?? null,
        clampLimit(q.limit),
      ],
    )) as TradeDbRow[];
    const trades = rows.map(toTradeRecord);
    return fromStart ? trades : trades.reverse();
  }

  /**
   * An account's fills of one symbol (maker and taker; optionally of one order) that the
   * order-router has settled, each with the fee its ledger entry charged (key
   * `<symbol>:<seq>:<account>:<maker|taker>:fee`, written in the same transaction as the order's
   * state). Oldest first: from a seq or a start time on, or (with neither) the newest `limit`.
   * A trade market-data stored before the router settled it is not listed yet.
   */
  async settledFills(
    accountId: string,
    q: TradeRangeQuery & { symbol: string; orderId?: string },
  ): Promise<SettledFill[]> {
    const fromStart = q.fromSeq !== undefined || q.start !== undefined;
    const dir = fromStart ? 'ASC' : 'DESC';
    const rows = (await this.db.query(
      `SELECT f.symbol, f.seq::text AS seq, f.order_id, f.side, f.liquidity, f.price::text AS price,
              f.qty::text AS qty, f.executed_at, l.available_delta::text AS fee
       FROM (
         SELECT symbol, seq, maker_order_id AS order_id,
                CASE taker_side WHEN 'buy' THEN 'sell' ELSE 'buy' END AS side, 'maker' AS liquidity,
                price, qty, executed_at
         FROM trades WHERE maker_account_id = $1 AND symbol = $2 AND ($3::text IS NULL OR maker_order_id = $3)
         UNION ALL
         SELECT symbol, seq, taker_order_id, taker_side, 'taker', price, qty, executed_at
         FROM trades WHERE taker_account_id = $1 AND symbol = $2 AND ($3::text IS NULL OR taker_order_id = $3)
       ) f
       JOIN ledger l ON l.entry_key = f.symbol || ':' || f.seq::text || ':' || $1 || ':' || f.liquidity || ':fee'
       WHERE ($4::bigint IS NULL OR f.seq >= $4)
         AND ($5::timestamptz IS NULL OR f.executed_at >= $5) AND ($6::timestamptz IS NULL OR f.executed_at <= $6)
       ORDER BY f.executed_at ${dir}, f.seq ${dir}, f.liquidity ${dir}
       LIMIT $7`,
      [
        accountId,
        q.symbol,
        q.orderId ?? null,
        q.fromSeq === undefined ? null : String(q.fromSeq),
        q.start?.toISOString() ?? null,
        q.end?.toISOString() ?? null,
        clampLimit(q.limit),
      ],
    )) as (FillDbRow & { fee: string })[];
    const fills = rows.map((r) => {
      const seq = safeInt(r.seq, 'seq');
      return {
        symbol: r.symbol,
        seq,
        tradeId: `${r.symbol}:${seq}`,
        orderId: r.order_id,
        side: r.side,
        liquidity: r.liquidity,
        price: safeInt(r.price, 'price'),
        qty: safeInt(r.qty, 'qty'),
        executedAt: toDate(r.executed_at),
        fee: BigInt(r.fee),
      };
    });
    return fromStart ? fills : fills.reverse();
  }

  /**
   * Per time bucket of `intervalMs` (aligned like the candles: UTC, from 2000-01-01) within
   * [from, to): quote volume and the taker-buy volumes, keyed by the bucket's start (epoch ms).
   */
  async bucketVolumes(
    symbol: string,
    intervalMs: number,
    from: Date,
    to: Date,
  ): Promise<Map<number, BucketVolumes>> {
    const rows = (await this.db.query(
      `SELECT (extract(epoch FROM date_bin(make_interval(secs => $2::bigint / 1000), executed_at,
                 TIMESTAMPTZ '2000-01-01 00:00:00+00')) * 1000)::bigint::text AS bucket,
              sum(price::numeric * qty)::text AS quote,
              sum(CASE WHEN taker_side = 'buy' THEN qty ELSE 0 END)::text AS buy,
              sum(CASE WHEN taker_side = 'buy' THEN price::numeric * qty ELSE 0 END)::text AS buy_quote
       FROM trades WHERE symbol = $1 AND executed_at >= $3 AND executed_at < $4
       GROUP BY 1`,
      [symbol, String(intervalMs), from.toISOString(), to.toISOString()],
    )) as { bucket: string; quote: string; buy: string; buy_quote: string }[];
    return new Map(
      rows.map((r) => [
        safeInt(r.bucket, 'bucket'),
        { quoteVolume: r.quote, takerBuyVolume: r.buy, takerBuyQuoteVolume: r.buy_quote },
      ]),
    );
  }

  /** The trades of `symbol` executed in [from, to) summed up as one candle; null when there is none. */
  async bucketSummary(symbol: string, from: Date, to: Date): Promise<BucketSummary | null> {
    const rows = (await this.db.query(
      `SELECT count(*)::text AS n, min(seq)::text AS first_seq, max(seq)::text AS last_seq,
              (array_agg(price ORDER BY seq ASC))[1]::text AS open,
              (array_agg(price ORDER BY seq DESC))[1]::text AS close,
              max(price)::text AS high, min(price)::text AS low, sum(qty)::text AS volume,
              sum(price::numeric * qty)::text AS quote,
              sum(CASE WHEN taker_side = 'buy' THEN qty ELSE 0 END)::text AS buy,
              sum(CASE WHEN taker_side = 'buy' THEN price::numeric * qty ELSE 0 END)::text AS buy_quote
       FROM trades WHERE symbol = $1 AND executed_at >= $2 AND executed_at < $3`,
      [symbol, from.toISOString(), to.toISOString()],
    )) as {
      n: string;
      first_seq: string | null;
      last_seq: string | null;
      open: string | null;
      close: string | null;
      high: string | null;
      low: string | null;
      volume: string | null;
      quote: string | null;
      buy: string | null;
      buy_quote: string | null;
    }[];
    const r = rows[0];
    if (!r || r.n === '0' || r.first_seq === null || r.last_seq === null) return null;
    return {
      trades: safeInt(r.n, 'n'),
      firstSeq: safeInt(r.first_seq, 'first_seq'),
      lastSeq: safeInt(r.last_seq, 'last_seq'),
      open: r.open ?? '0',
      high: r.high ?? '0',
      low: r.low ?? '0',
      close: r.close ?? '0',
      volume: r.volume ?? '0',
      quoteVolume: r.quote ?? '0',
      takerBuyVolume: r.buy ?? '0',
      takerBuyQuoteVolume: r.buy_quote ?? '0',
    };
  }
}
