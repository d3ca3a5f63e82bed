export * from './dead-letter.schema';
export * from './topics';
