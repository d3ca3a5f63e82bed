import 'reflect-metadata';
import { loadConfig } from '@trading/config';
import { bootstrapService, exitOnBootFailure } from '@trading/nest-common';
import { AppModule, SEQUENCED_CONSUMER } from './app.module';
import { MatchingWorkerConfigSchema } from './matching-worker.config';

async function main(): Promise<void> {
  const config = loadConfig(MatchingWorkerConfigSchema);
  await bootstrapService(AppModule.forRoot(config), {
    host: config.HTTP_HOST,
    port: config.HTTP_PORT,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    shutdownDrainMs: config.SHUTDOWN_DRAIN_MS,
    transports: [SEQUENCED_CONSUMER],
  });
}

main().catch(exitOnBootFailure('matching-worker'));
