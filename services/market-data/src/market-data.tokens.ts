/** The parsed service configuration. */
export const MARKET_DATA_CONFIG = Symbol('MARKET_DATA_CONFIG');

/** The executions.v1 consumer (a PartitionConsumer transport; main connects it). */
export const EXECUTIONS_CONSUMER = Symbol('EXECUTIONS_CONSUMER');
