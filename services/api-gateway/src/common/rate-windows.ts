import type Redis from 'ioredis';

// Fixed one-second windows counted atomically in Redis, so every gateway replica shares the
// limits. A window's key lives two seconds (it is only read in its own second).
const WINDOW_TTL_MS = 2000;

// KEYS: the window. Returns its count after this request.
const IP_WINDOW_SCRIPT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;

// A verified signed request: its API key's window and its signature's nonce in one step.
// KEYS: the window, the nonce; ARGV: window ttl ms, nonce ttl ms, limit. Returns {count, nonce}:
// nonce 1 = claimed now; 0 = used already (a replay, which is not counted against the key);
// -1 = the limit is exceeded, the nonce is left unclaimed so the request can be sent again as is.
const KEY_WINDOW_SCRIPT = `
if redis.call('EXISTS', KEYS[2]) == 1 then return {0, 0} end
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if n > tonumber(ARGV[3]) then return {n, -1} end
redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
return {n, 1}`;

interface RateCommands {
  ipWindow(windowKey: string, ttlMs: number): Promise<number>;
  keyWindow(
    windowKey: string,
    nonceKey: string,
    ttlMs: number,
    nonceTtlMs: number,
    limit: number,
  ): Promise<[number, number]>;
}

/** The window key of a scope ('ip' or 'key') and id for the second of `now`. */
export const windowKey = (scope: 'ip' | 'key', id: string, now: number): string =>
  `rl:${scope}:${id}:${Math.floor(now / 1000)}`;

function commands(redis: Redis): Redis & RateCommands {
  const r = redis as Redis & Partial<RateCommands>;
  if (typeof r.ipWindow !== 'function' || typeof r.keyWindow !== 'function') {
    redis.defineCommand('ipWindow', { numberOfKeys: 1, lua: IP_WINDOW_SCRIPT });
    redis.defineCommand('keyWindow', { numberOfKeys: 2, lua: KEY_WINDOW_SCRIPT });
  }
  return r as Redis & RateCommands;
}

/** Counts one request in a client IP's window; its count in this second. */
export function countIpWindow(redis: Redis, ip: string, now: number): Promise<number> {
  return commands(redis).ipWindow(windowKey('ip', ip, now), WINDOW_TTL_MS);
}

/** What a verified request's key window said: the count, and whether the nonce was claimed. */
export interface KeyWindowResult {
  used: number;
  nonce: 'claimed' | 'replayed' | 'limited';
}

/**
 * Counts a verified request in its API key's window and claims its nonce, unless the nonce was
 * used already (then nothing is counted) or the key is over its limit (then nothing is claimed).
 */
export async function countKeyWindow(
  redis: Redis,
  apiKey: string,
  nonceKey: string,
  nonceTtlMs: number,
  limit: number,
  now: number,
): Promise<KeyWindowResult> {
  const [used, nonce] = await commands(redis).keyWindow(
    windowKey('key', apiKey, now),
    nonceKey,
    WINDOW_TTL_MS,
    nonceTtlMs,
    limit,
  );
  return { used, nonce: nonce === 1 ? 'claimed' : nonce === 0 ? 'replayed' : 'limited' };
}
