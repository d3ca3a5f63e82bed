import { backoffDelay, describeBatchRetry, retryBatch, type BatchRetryContext } from './batch-retry';

function context(overrides: Partial<BatchRetryContext> = {}): BatchRetryContext & { beats: number } {
  const ctx = {
    beats: 0,
    isRunning: () => true,
    isStale: () => false,
    heartbeat: async () => {
      ctx.beats++;
    },
    ...overrides,
  };
  return ctx;
}

describe('batch retry', () => {
  it('doubles the wait from the initial delay up to the cap, with bounded jitter', () => {
    const opts = { initialMs: 100, maxMs: 1000 };
    expect([0, 1, 2, 3, 4, 10, 50].map((a) => backoffDelay(a, opts, () => 0.5))).toEqual([
      100, 200, 400, 800, 1000, 1000, 1000,
    ]);
    expect(backoffDelay(0, opts, () => 0)).toBe(80);
    expect(backoffDelay(0, opts, () => 1)).toBe(120);
    expect(backoffDelay(20, opts, () => 1)).toBe(1000);
  });

  it('retries a failing batch until it succeeds, counting each retry and heartbeating while it waits', async () => {
    let calls = 0;
    const slept: number[] = [];
    const retries: number[] = [];
    const ctx = context();
    const result = await retryBatch(
      async () => {
        calls++;
        if (calls < 4) throw new Error('connect ECONNREFUSED');
        return 'done';
      },
      ctx,
      {
        backoff: { initialMs: 1500, maxMs: 4000 },
        sleep: async (ms) => {
          slept.push(ms);
        },
        onRetry: (attempt) => retries.push(attempt),
      },
    );
    expect(result).toBe('done');
    expect(calls).toBe(4);
    expect(retries).toEqual([0, 1, 2]);
    // Never more than a second without a heartbeat.
    expect(Math.max(...slept)).toBeLessThanOrEqual(1000);
    expect(ctx.beats).toBe(slept.length);
  });

  it('gives the batch back to kafkajs when the consumer stops or the partition is revoked', async () => {
    let running = true;
    const failing = jest.fn(() => Promise.reject(new Error('database down')));
    const stopped = retryBatch(failing, context({ isRunning: () => running }), {
      sleep: async () => {
        running = false;
      },
    });
    await expect(stopped).rejects.toThrow('database down');
    expect(failing).toHaveBeenCalledTimes(1);

    const stale = retryBatch(failing, context({ isStale: () => true }));
    await expect(stale).rejects.toThrow('database down');
  });
});

describe('describeBatchRetry', () => {
  it('names the partition, the attempt (from 1), the cause and the wait', () => {
    expect(describeBatchRetry('orders.updates.v1', 3, 0, 200, new Error('database down'))).toBe(
      'orders.updates.v1[3] batch failed (attempt 1): database down; retrying in 200 ms',
    );
    expect(describeBatchRetry('executions.v1', 0, 4, 5000, 'ECONNREFUSED')).toBe(
      'executions.v1[0] batch failed (attempt 5): ECONNREFUSED; retrying in 5000 ms',
    );
  });
});
