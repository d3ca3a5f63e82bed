import 'reflect-metadata';
import { loadConfig } from '@trading/config';
import { bootstrapService, exitOnBootFailure } from '@trading/nest-common';
import { AppModule, ROUTER_CONSUMER } from './app.module';
import { OrderRouterConfigSchema } from './order-router.config';

async function main(): Promise<void> {
  const config = loadConfig(OrderRouterConfigSchema);
  await bootstrapService(AppModule.forRoot(config), {
    host: config.HTTP_HOST,
    port: config.HTTP_PORT,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    shutdownDrainMs: config.SHUTDOWN_DRAIN_MS,
    transports: [ROUTER_CONSUMER],
  });
}

main().catch(exitOnBootFailure('order-router'));
