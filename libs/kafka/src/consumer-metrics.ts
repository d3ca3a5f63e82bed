import { BATCH_SIZE_BUCKETS, consumerRetriesCounter, type MetricsRegistry } from '@trading/metrics';
import type { ConsumerMetrics } from './consumed-record';

/**
 * The names a service's consumer metrics have on the dashboards and alerts (swarm/grafana,
 * swarm/monitoring.yml, native/ rules): kept as they are, one implementation behind them.
 */
export interface ConsumerMetricNames {
  /** Records per partition batch, labelled by topic. */
  batch?: { name: string; help: string };
  /** Records behind the partition end after each batch (labels topic, partition, and group when given). */
  lag: { name: string; help: string; group?: string };
  /** Records dead-lettered, labelled by topic (and reason when `reason`). */
  deadLetters?: { name: string; help: string; reason?: boolean };
}

/** The consumer metrics (batch size, lag, dead letters, `consumer_retries_total`) of one service. */
export function consumerMetrics(registry: MetricsRegistry, names: ConsumerMetricNames): ConsumerMetrics {
  const batch =
    names.batch && registry.histogram(names.batch.name, names.batch.help, BATCH_SIZE_BUCKETS, ['topic']);
  const group = names.lag.group;
  const lag =
    group === undefined
      ? registry.gauge(names.lag.name, names.lag.help, ['topic', 'partition'])
      : registry.gauge(names.lag.name, names.lag.help, ['topic', 'partition', 'group']);
  const dead =
    names.deadLetters &&
    registry.counter(
      names.deadLetters.name,
      names.deadLetters.help,
      names.deadLetters.reason ? ['topic', 'reason'] : ['topic'],
    );
  const withReason = names.deadLetters?.reason === true;
  const retries = consumerRetriesCounter(registry);
  return {
    observeBatch(topic, partition, size, records) {
      batch?.observe({ topic }, size);
      if (group === undefined) lag.set({ topic, partition: String(partition) }, records);
      else lag.set({ topic, partition: String(partition), group }, records);
    },
    deadLettered(topic, reason) {
      dead?.inc(withReason ? { topic, reason } : { topic });
    },
    retried(topic) {
      retries.inc({ topic });
    },
  };
}
