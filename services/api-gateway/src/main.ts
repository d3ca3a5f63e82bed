import 'reflect-metadata';
import { loadConfig } from '@trading/config';
import { bootstrapService, exitOnBootFailure } from '@trading/nest-common';
import { AppModule } from './app.module';
import { ApiGatewayConfigSchema } from './api-gateway.config';
import { applyNativeEncryptionKeyDefault } from './auth/native-encryption-key';
import { installOverloadProtection } from './common/overload-protection';
import { configureGateway } from './configure-app';
import { GATEWAY_SERVER_OPTIONS } from './errors/framework-errors';

async function main(): Promise<void> {
  // Native runs: the same key file the seed uses, unless the environment names one.
  applyNativeEncryptionKeyDefault(process.env);
  const config = loadConfig(ApiGatewayConfigSchema);
  await bootstrapService(AppModule.forRoot(config), {
    host: config.HTTP_HOST,
    port: config.HTTP_PORT,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    shutdownDrainMs: config.SHUTDOWN_DRAIN_MS,
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
    trustProxy: config.TRUSTED_PROXIES,
    server: GATEWAY_SERVER_OPTIONS,
    configure: (app) => {
      installOverloadProtection(app, config);
      configureGateway(app, config);
    },
  });
}

main().catch(exitOnBootFailure('api-gateway'));
