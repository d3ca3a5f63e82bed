import 'reflect-metadata';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { databaseSchema, loadConfig } from '@trading/config';
import { AccountsRepository, ApiKeysRepository, createDataSource, MarketsRepository } from '@trading/db';
import { ApiGatewayConfigSchema, decodeEncryptionKey } from './api-gateway.config';
import { ApiKeyIssuer } from './auth/api-key.issuer';
import { applyNativeEncryptionKeyDefault, repositoryRoot } from './auth/native-encryption-key';
import { SecretCipher } from './auth/secret.cipher';

// Seeds the demo platform, idempotently: assets, markets, the fee account, demo-1 and demo-2
// with an API key each. Prints the keys as JSON (the only place a secret is shown) and writes
// them to DEMO_KEYS_FILE (default native/.run/secrets/demo-keys.json, mode 600).
//
// The platform key comes from API_KEY_ENCRYPTION_KEY or API_KEY_ENCRYPTION_KEY_FILE, exactly as
// the gateway reads it; with neither set in a source checkout, both fall back to
// native/.run/secrets/api_key_encryption_key (generated once), so they always agree.

const seedSchema = databaseSchema.extend({
  API_KEY_ENCRYPTION_KEY: ApiGatewayConfigSchema.shape.API_KEY_ENCRYPTION_KEY,
  DEMO_KEYS_FILE: z.string().min(1).default(join(repositoryRoot(), 'native/.run/secrets/demo-keys.json')),
});

function writeSecretFile(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, content, { mode: 0o600 });
  chmodSync(path, 0o600);
}

async function main(): Promise<void> {
  const keyFile = applyNativeEncryptionKeyDefault(process.env);
  const config = loadConfig(seedSchema);
  const db = createDataSource(config, { applicationName: 'api-gateway-seed' });
  await db.initialize();
  try {
    const markets = new MarketsRepository(db);
    await markets.upsertAsset('BTC', 8);
    await markets.upsertAsset('ETH', 8);
    await markets.upsertAsset('USDT', 6);
    await markets.upsertMarket({
      symbol: 'BTC-USDT',
      baseAsset: 'BTC',
      quoteAsset: 'USDT',
      tickSize: '0.01',
      lotSize: '0.0001',
      minNotional: '1',
    });
    await markets.upsertMarket({
      symbol: 'ETH-USDT',
      baseAsset: 'ETH',
      quoteAsset: 'USDT',
      tickSize: '0.01',
      lotSize: '0.001',
      minNotional: '1',
    });

    const accounts = new AccountsRepository(db);
    await accounts.ensure('fee', 'Exchange fees', 'fee');
    const issuer = new ApiKeyIssuer(
      new ApiKeysRepository(db),
      new SecretCipher(decodeEncryptionKey(config.API_KEY_ENCRYPTION_KEY)),
    );
    const apiKeys = [];
    for (const accountId of ['demo-1', 'demo-2']) {
      await accounts.ensure(accountId, `Demo account ${accountId.slice(-1)}`);
      const key = await issuer.ensure(accountId, 'demo');
      apiKeys.push({ accountId, keyId: key.keyId, secret: key.secret });
    }
    const out = JSON.stringify({ markets: ['BTC-USDT', 'ETH-USDT'], feeAccount: 'fee', apiKeys }, null, 2);
    writeSecretFile(config.DEMO_KEYS_FILE, `${out}\n`);
    process.stdout.write(`${out}\n`);
    process.stderr.write(`wrote ${config.DEMO_KEYS_FILE}${keyFile ? ` (platform key: ${keyFile})` : ''}\n`);
  } finally {
    await db.destroy();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`seed failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
