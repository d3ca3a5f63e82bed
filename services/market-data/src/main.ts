import 'reflect-metadata';
import { loadConfig } from '@trading/config';
import { bootstrapService, exitOnBootFailure } from '@trading/nest-common';
import { AppModule } from './app.module';
import { MarketDataConfigSchema } from './market-data.config';
import { EXECUTIONS_CONSUMER } from './market-data.tokens';

async function main(): Promise<void> {
  const config = loadConfig(MarketDataConfigSchema);
  await bootstrapService(AppModule.forRoot(config), {
    host: config.HTTP_HOST,
    port: config.HTTP_PORT,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    shutdownDrainMs: config.SHUTDOWN_DRAIN_MS,
    transports: [EXECUTIONS_CONSUMER],
  });
}

main().catch(exitOnBootFailure('market-data'));
