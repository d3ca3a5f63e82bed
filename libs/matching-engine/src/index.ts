export * from './engine.types';
export { MatchingEngine } from './matching-engine';
export { FNV_OFFSET, hashEvents } from './state-hash';
