/** Bounded exponential backoff between attempts at one partition batch. */
export interface BackoffOptions {
  /** Wait before the first retry. */
  initialMs: number;
  /** Longest wait between two attempts, however long the outage. */
  maxMs: number;
}

export const DEFAULT_BATCH_BACKOFF: BackoffOptions = { initialMs: 200, maxMs: 5000 };

/** Longest single sleep: the group coordinator must hear a heartbeat in between. */
const HEARTBEAT_SLICE_MS = 1000;

/** Wait before retry number `attempt` (0 for the first): doubling, capped, ±20 % jitter. */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = DEFAULT_BATCH_BACKOFF,
  random: () => number = Math.random,
): number {
  const base = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(attempt, 30));
  const jittered = base * (0.8 + 0.4 * random());
  return Math.round(Math.min(options.maxMs, jittered));
}

/** What the retry loop needs from kafkajs's eachBatch payload. */
export interface BatchRetryContext {
  isRunning(): boolean;
  /** True once the partition was revoked or seeked: the batch in hand is no longer ours to retry. */
  isStale(): boolean;
  heartbeat(): Promise<void>;
}

export interface BatchRetryOptions {
  backoff?: BackoffOptions;
  /** Called before each wait, e.g. to count `consumer_retries_total` and log the cause. */
  onRetry?: (attempt: number, delayMs: number, err: unknown) => void;
  sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Runs one partition batch's handler until it succeeds, waiting a bounded exponential backoff
 * (heartbeating meanwhile) after each failure: a dependency outage stalls the partition, its
 * offset does not move past the failing record, and processing resumes by itself when the
 * dependency is back. Rethrows only when the consumer stops or the partition is no longer this
 * batch's (rebalance, seek); kafkajs then re-delivers from the last resolved offset.
 */
export async function retryBatch<T>(
  fn: () => Promise<T>,
  ctx: BatchRetryContext,
  options: BatchRetryOptions = {},
): Promise<T> {
  const sleep = options.sleep ?? defaultSleep;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!ctx.isRunning() || ctx.isStale()) throw err;
      const delay = backoffDelay(attempt, options.backoff);
      options.onRetry?.(attempt, delay, err);
      for (let waited = 0; waited < delay; waited += HEARTBEAT_SLICE_MS) {
        await sleep(Math.min(HEARTBEAT_SLICE_MS, delay - waited));
        if (!ctx.isRunning() || ctx.isStale()) throw err;
        // Throws during a rebalance: kafkajs rejoins and re-delivers.
        await ctx.heartbeat();
      }
    }
  }
}

/** The warning every consumer logs before a batch retry: where, which attempt, why, how long. */
export function describeBatchRetry(
  topic: string,
  partition: number,
  attempt: number,
  delayMs: number,
  err: unknown,
): string {
  const reason = err instanceof Error ? err.message : String(err);
  return `${topic}[${partition}] batch failed (attempt ${attempt + 1}): ${reason}; retrying in ${delayMs} ms`;
}
