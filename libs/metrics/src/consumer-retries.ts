import type { Counter } from 'prom-client';
import type { MetricsRegistry } from './metrics-registry';

/**
 * `consumer_retries_total{topic}`: failed attempts at a partition batch that will be retried
 * after a backoff (a dependency down, usually). One definition for every consuming service.
 */
export function consumerRetriesCounter(metrics: MetricsRegistry): Counter<'topic'> {
  return metrics.counter(
    'consumer_retries_total',
    'Partition batches that failed and are retried after a backoff, by topic',
    ['topic'],
  );
}
