import { Injectable } from '@nestjs/common';
import type Redis from 'ioredis';
import { redisKeys, type DepthSnapshot, type PublicTrade, type Ticker } from '@trading/contracts';
import { RedisService } from '@trading/nest-common';
import { MarketDataMetrics } from './market-data.metrics';

// Snapshot write, INCR of the channel seq and PUBLISH happen in one script, so a subscriber
// that reads a snapshot (seq S) and applies messages with seq > S sees no gap and no duplicate.
// The data JSON is built in Node and spliced in as a string: cjson would turn [] into {} and
// print large numbers with 14 digits.

/**
 * KEYS: snapshot, channel seq. ARGV: channel as a JSON string, pub/sub channel, data JSON,
 * version, name of the version field inside data. Skips (returns 0) when the stored snapshot's
 * data already has that version or a newer one (a redelivered record); else returns the new seq.
 */
const SNAPSHOT_LUA = `
local cur = redis.call('GET', KEYS[1])
local version = tonumber(ARGV[4])
if cur then
  local ok, old = pcall(cjson.decode, cur)
  if ok and type(old) == 'table' and type(old.data) == 'table' then
    local v = tonumber(old.data[ARGV[5]])
    if v and v >= version then return 0 end
  end
end
local seq = string.format('%d', redis.call('INCR', KEYS[2]))
redis.call('SET', KEYS[1], '{"seq":' .. seq .. ',"data":' .. ARGV[3] .. '}')
redis.call('PUBLISH', ARGV[2], '{"channel":' .. ARGV[1] .. ',"seq":' .. seq .. ',"data":' .. ARGV[3] .. '}')
return tonumber(seq)
`;

/**
 * KEYS: snapshot, channel seq, recent-trades list. ARGV: channel as a JSON string, pub/sub
 * channel, max trades kept, then (engine seq, PublicTrade JSON) pairs in ascending seq. Trades
 * at or below the newest stored seq are skipped (redelivery); each new trade gets its own seq
 * and message; the snapshot is rewritten once from the list. Returns how many were applied.
 */
const TRADES_LUA = `
local last = 0
local head = redis.call('LINDEX', KEYS[3], 0)
if head then
  local ok, t = pcall(cjson.decode, head)
  if ok and type(t) == 'table' then last = tonumber(t.seq) or 0 end
end
local seq = nil
local applied = 0
for i = 4, #ARGV, 2 do
  local tradeSeq = tonumber(ARGV[i])
  if tradeSeq > last then
    seq = string.format('%d', redis.call('INCR', KEYS[2]))
    redis.call('LPUSH', KEYS[3], ARGV[i + 1])
    redis.call('PUBLISH', ARGV[2], '{"channel":' .. ARGV[1] .. ',"seq":' .. seq .. ',"data":' .. ARGV[i + 1] .. '}')
    last = tradeSeq
    applied = applied + 1
  end
end
if applied > 0 then
  redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[3]) - 1)
  local items = redis.call('LRANGE', KEYS[3], 0, -1)
  redis.call('SET', KEYS[1], '{"seq":' .. seq .. ',"data":[' .. table.concat(items, ',') .. ']}')
end
return applied
`;

type ScriptArg = string | number;
interface StreamCommands {
  mdSnapshot(...args: ScriptArg[]): Promise<number>;
  mdTrades(...args: ScriptArg[]): Promise<number>;
}

/** Backing list of the trades snapshot (newest first); internal to market-data. */
export function recentTradesListKey(symbol: string): string {
  return `${redisKeys.trades(symbol)}:list`;
}

/** Writes market-data snapshots to Redis and publishes their updates, atomically. */
@Injectable()
export class RedisStreamPublisher {
  private readonly redis: Redis & StreamCommands;

  constructor(
    redisService: RedisService,
    private readonly metrics: MarketDataMetrics,
  ) {
    const redis = redisService.redis;
    redis.defineCommand('mdSnapshot', { numberOfKeys: 2, lua: SNAPSHOT_LUA });
    redis.defineCommand('mdTrades', { numberOfKeys: 3, lua: TRADES_LUA });
    this.redis = redis as Redis & StreamCommands;
  }

  /** Publishes the book unless this engine seq (or a later one) is already there. Returns the channel seq or 0. */
  async depth(snapshot: DepthSnapshot): Promise<number> {
    const channel = `depth:${snapshot.symbol}`;
    return this.timed('depth', () =>
      this.redis.mdSnapshot(
        redisKeys.depth(snapshot.symbol),
        redisKeys.channelSeq(channel),
        JSON.stringify(channel),
        redisKeys.pubsub(channel),
        JSON.stringify(snapshot),
        snapshot.engineSeq,
        'engineSeq',
      ),
    );
  }

  /** Publishes the ticker unless a newer one (by time) is already there. */
  async ticker(ticker: Ticker): Promise<number> {
    const channel = `ticker:${ticker.symbol}`;
    return this.timed('ticker', () =>
      this.redis.mdSnapshot(
        redisKeys.ticker(ticker.symbol),
        redisKeys.channelSeq(channel),
        JSON.stringify(channel),
        redisKeys.pubsub(channel),
        JSON.stringify(ticker),
        // A strictly newer time wins; the same millisecond is a redelivery.
        ticker.time,
        'time',
      ),
    );
  }

  /** Appends trades (ascending seq) not yet applied; one message per trade. Returns how many were new. */
  async trades(symbol: string, trades: readonly PublicTrade[], keep: number): Promise<number> {
    if (trades.length === 0) return 0;
    const channel = `trades:${symbol}`;
    const args: ScriptArg[] = [
      redisKeys.trades(symbol),
      redisKeys.channelSeq(channel),
      recentTradesListKey(symbol),
      JSON.stringify(channel),
      redisKeys.pubsub(channel),
      keep,
    ];
    for (const t of trades) args.push(t.seq, JSON.stringify(t));
    return this.timed('trades', () => this.redis.mdTrades(...args));
  }

  /** The stored depth snapshot, e.g. for the best prices after a restart. */
  async readDepth(symbol: string): Promise<{ seq: number; data: DepthSnapshot } | null> {
    const raw = await this.timed('read_depth', () => this.redis.get(redisKeys.depth(symbol)));
    return raw ? (JSON.parse(raw) as { seq: number; data: DepthSnapshot }) : null;
  }

  private async timed<T>(op: string, fn: () => Promise<T>): Promise<T> {
    const end = this.metrics.redisDuration.startTimer({ op });
    try {
      const result = await fn();
      end({ outcome: 'ok' });
      return result;
    } catch (err) {
      end({ outcome: 'error' });
      throw err;
    }
  }
}
