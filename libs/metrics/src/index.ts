export * from './buckets';
export * from './metrics-registry';
export * from './dependency-latency';
export * from './pgbouncer-pools.collector';
export * from './consumer-retries';
