export * from './buckets';
export * from './metrics-registry';
