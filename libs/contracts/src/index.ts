export * from './common.schema';
export * from './dead-letter.schema';
export * from './execution.schema';
export * from './market-data.schema';
export * from './order-command.schema';
export * from './topics';
export * from './decimal';
export * from './market-spec';
