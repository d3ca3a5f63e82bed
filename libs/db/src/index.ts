export * from './data-source.factory';
export * from './entities/asset.entity';
export * from './entities/market.entity';
export * from './repositories/markets.repository';
export * from './schema';
export * from './timescale';
export * from './repositories/engine-snapshots.repository';
export * from './repositories/orders.repository';
