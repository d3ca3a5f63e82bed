export * from './bootstrap';
export * from './health.controller';
export * from './metrics.controller';
export * from './platform.module';
export * from './readiness';
export * from './shutdown-state';
export * from './infra.providers';
export * from './market-catalog.service';
