// Cancels what an interrupted run left resting: `node -r @swc-node/register
// loadtest/src/cleanup.ts --run-id <id>`. The run's secrets are gone with its process, so each
// account gets a fresh key (label loadtest-cleanup) from the platform's own issuer (dist/).
import { RESTING_ORDER_STATUSES } from '@trading/contracts';
import { dbPool, fromDist, gatewayUrl, loadPlatformEnv, type DistApiKeys } from './platform';
import { cancelResting, drainResting } from './run-load';

async function main(): Promise<void> {
  const i = process.argv.indexOf('--run-id');
  const runId = i >= 0 ? process.argv[i + 1] : undefined;
  if (!runId || !/^[A-Za-z0-9_.-]{1,30}$/.test(runId)) throw new Error('usage: cleanup.ts --run-id <id>');
  loadPlatformEnv();
  const baseUrl = gatewayUrl();
  const cfgLib = fromDist<{
    loadConfig(schema: unknown): Record<string, unknown>;
    databaseSchema: { extend(shape: unknown): unknown };
  }>('libs/config/src/index');
  const db = fromDist<{
    createDataSource(
      c: unknown,
      o: { applicationName: string },
    ): { initialize(): Promise<unknown>; destroy(): Promise<void> };
    ApiKeysRepository: new (ds: unknown) => unknown;
  }>('libs/db/src/index');
  const gw = fromDist<{
    ApiGatewayConfigSchema: { shape: Record<string, unknown> };
    decodeEncryptionKey(v: string): Buffer;
  }>('services/api-gateway/src/api-gateway.config');
  const { ApiKeyIssuer } = fromDist<{ ApiKeyIssuer: new (r: unknown, c: unknown) => DistApiKeys }>(
    'services/api-gateway/src/auth/api-key.issuer',
  );
  const { SecretCipher } = fromDist<{ SecretCipher: new (k: Buffer) => unknown }>(
    'services/api-gateway/src/auth/secret.cipher',
  );
  const config = cfgLib.loadConfig(
    cfgLib.databaseSchema.extend({
      API_KEY_ENCRYPTION_KEY: gw.ApiGatewayConfigSchema.shape.API_KEY_ENCRYPTION_KEY,
    }),
  );
  const pool = dbPool();
  const prefix = `lt-${runId}-`;
  const { rows } = await pool.query<{ account_id: string }>(
    `SELECT DISTINCT account_id FROM orders WHERE account_id LIKE $1 AND status = ANY($2)`,
    [`${prefix}%`, RESTING_ORDER_STATUSES],
  );
  const ds = db.createDataSource(config, { applicationName: 'loadtest-cleanup' });
  await ds.initialize();
  const issuer = new ApiKeyIssuer(
    new db.ApiKeysRepository(ds),
    new SecretCipher(gw.decodeEncryptionKey(String(config.API_KEY_ENCRYPTION_KEY))),
  );
  const accounts = [];
  for (const r of rows) accounts.push(await issuer.issue(r.account_id, 'loadtest-cleanup'));
  await ds.destroy();
  const result = await cancelResting(baseUrl, pool, prefix, accounts);
  await drainResting(pool, prefix, 60_000);
  process.stdout.write(
    `[cleanup] ${runId}: ${accounts.length} accounts, cancelled ${result.cancelled}, refused ${result.failed}\n`,
  );
  await pool.end();
}

main().catch((err: unknown) => {
  process.stderr.write(`[cleanup] failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
});
