/** Histogram bucket boundaries, in seconds, named once so dashboards and alerts agree. */
export const HTTP_DURATION_BUCKETS_SECONDS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];
export const KAFKA_DURATION_BUCKETS_SECONDS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
];
export const DB_DURATION_BUCKETS_SECONDS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];
export const REDIS_DURATION_BUCKETS_SECONDS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
];
/**
 * The tail every end-to-end histogram shares, up to ten minutes: a backlog (a consumer behind
 * after an outage, a saturated run) must read as its real age. With 10 s as the top bound every
 * record older than that landed in +Inf and histogram_quantile answered "10 s" however old the
 * backlog was (issue 21).
 */
export const BACKLOG_TAIL_BUCKETS_SECONDS = [15, 30, 60, 120, 300, 600];
// End-to-end: gateway receipt to execution emitted / trade persisted. Finer around the 250 ms
// target (issue 9) so a p99 near it is read from a 50 ms bucket, not interpolated in 0.1–0.25.
export const PIPELINE_DURATION_BUCKETS_SECONDS = [
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.075,
  0.1,
  0.15,
  0.2,
  0.25,
  0.3,
  0.4,
  0.5,
  0.75,
  1,
  2.5,
  5,
  10,
  ...BACKLOG_TAIL_BUCKETS_SECONDS,
];
// Order receipt to Kafka acknowledgement: finer around the 50 ms target; a broker that stalls
// the acknowledgement for longer than the gateway's timeout still reads as its real time.
export const ORDER_ACK_DURATION_BUCKETS_SECONDS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];
export const ENGINE_DURATION_BUCKETS_SECONDS = [
  0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.001,
];
export const BATCH_SIZE_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];
