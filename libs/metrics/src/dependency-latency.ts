import type { Histogram } from 'prom-client';
import { REDIS_DURATION_BUCKETS_SECONDS } from './buckets';
import type { MetricsRegistry } from './metrics-registry';

/**
 * Times Redis calls as `redis_command_duration_seconds{op, outcome}`; `op` must be a bounded
 * name chosen by the caller (e.g. 'depth_read'), never a key.
 */
export class RedisLatency {
  private readonly histogram: Histogram<'op' | 'outcome'>;

  constructor(metrics: MetricsRegistry) {
    this.histogram = metrics.histogram(
      'redis_command_duration_seconds',
      'Redis call duration by operation and outcome',
      REDIS_DURATION_BUCKETS_SECONDS,
      ['op', 'outcome'],
    );
  }

  /** Runs `call`, observing its duration with outcome ok or error; rethrows the error. */
  async time<T>(op: string, call: () => Promise<T>): Promise<T> {
    const end = this.histogram.startTimer({ op });
    try {
      const result = await call();
      end({ outcome: 'ok' });
      return result;
    } catch (err) {
      end({ outcome: 'error' });
      throw err;
    }
  }
}
