export * from './batching-producer';
export * from './dead-letter-publisher';
export * from './kafka-client';
export * from './murmur2';
export * from './validated-consumer';
export * from './partition-transactions';
export * from './co-partition-assigner';
export * from './batch-retry';
