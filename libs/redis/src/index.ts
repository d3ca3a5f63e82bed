export * from './redis-client';
export * from './stream-publisher';
