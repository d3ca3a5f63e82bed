// Setup step of a load run: N fresh accounts (`lt-<runId>-NNNN`), an API key each, and deposits
// of every asset the scenario trades; waits until the router applied the deposits.
//
// Preferred path: the gateway's operator API (POST /v1/operator/accounts and /deposits with
// X-Operator-Token). When the gateway has no operator API, the fallback uses the platform's own
// repositories and key issuer from dist/ and produces deposit commands straight to Kafka (native
// platform only: it needs the database pool).
import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import type { Pool } from 'pg';
import {
  DEPOSIT_UNITS,
  MARKETS,
  depositAmount,
  formatAccountsFile,
  runAccountId,
  signedRequest,
  type LoadAccount,
} from './scenario';
import { RUN_DIR, fromDist, kafkaBrokers, type DistApiKeys } from './platform';
import { nodeHmac } from './vegeta-targets';

const ORDER_COMMANDS_TOPIC = 'orders.commands.v1';

/** Assets the symbols need (base and quote of each). */
export function assetsOf(symbols: string[]): string[] {
  return [...new Set(symbols.flatMap((s) => [MARKETS[s].baseAsset, MARKETS[s].quoteAsset]))].sort();
}

/** The operator token: `file`, else OPERATOR_TOKEN, else OPERATOR_TOKEN_FILE or the native one. */
export function operatorToken(file?: string): string | null {
  if (file) return readFileSync(file, 'utf8').trim();
  if (process.env.OPERATOR_TOKEN) return process.env.OPERATOR_TOKEN;
  const fallback = process.env.OPERATOR_TOKEN_FILE ?? join(RUN_DIR, 'secrets/operator_token');
  return existsSync(fallback) ? readFileSync(fallback, 'utf8').trim() : null;
}

/** Writes the k6 scripts' ACCOUNTS_FILE (scenario.ts formatAccountsFile), 0600 unless `mode`. */
export function writeAccountsFile(file: string, accounts: readonly LoadAccount[], mode = 0o600): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, formatAccountsFile(accounts), { mode });
  chmodSync(file, mode); // also when the file existed (and past the umask)
}

async function operatorPost(
  baseUrl: string,
  token: string,
  path: string,
  body: unknown,
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-operator-token': token },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json };
}

/** Runs `fn` over items with at most `limit` in flight. */
async function pooled<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]);
      }
    }),
  );
  return out;
}

async function viaOperatorApi(
  baseUrl: string,
  token: string,
  ids: string[],
  assets: string[],
): Promise<LoadAccount[]> {
  const accounts = await pooled(ids, 8, async (accountId) => {
    const r = await operatorPost(baseUrl, token, '/v1/operator/accounts', {
      accountId,
      name: `load test ${accountId}`,
    });
    const j = r.json as { apiKey?: string; secret?: string };
    if (r.status !== 201 || !j.apiKey || !j.secret)
      throw new Error(`create account ${accountId}: ${r.status} ${JSON.stringify(r.json)}`);
    return { accountId, keyId: j.apiKey, secret: j.secret };
  });
  await pooled(
    ids.flatMap((accountId) => assets.map((asset) => ({ accountId, asset }))),
    8,
    async ({ accountId, asset }) => {
      const r = await operatorPost(baseUrl, token, '/v1/operator/deposits', {
        accountId,
        asset,
        amount: String(DEPOSIT_UNITS[asset]),
      });
      if (r.status !== 202)
        throw new Error(`deposit ${asset} to ${accountId}: ${r.status} ${JSON.stringify(r.json)}`);
    },
  );
  return accounts;
}

interface DistDb {
  createDataSource(
    config: unknown,
    opts: { applicationName: string },
  ): { initialize(): Promise<unknown>; destroy(): Promise<void> };
  AccountsRepository: new (ds: unknown) => { ensure(id: string, name: string): Promise<void> };
  ApiKeysRepository: new (ds: unknown) => unknown;
}

async function viaRepositoriesAndKafka(ids: string[], assets: string[]): Promise<LoadAccount[]> {
  const cfgLib = fromDist<{
    loadConfig(schema: unknown): Record<string, unknown>;
    databaseSchema: { extend(shape: unknown): unknown };
  }>('libs/config/src/index');
  const db = fromDist<DistDb>('libs/db/src/index');
  const gwConfig = fromDist<{
    ApiGatewayConfigSchema: { shape: Record<string, unknown> };
    decodeEncryptionKey(v: string): Buffer;
  }>('services/api-gateway/src/api-gateway.config');
  const { ApiKeyIssuer } = fromDist<{ ApiKeyIssuer: new (repo: unknown, cipher: unknown) => DistApiKeys }>(
    'services/api-gateway/src/auth/api-key.issuer',
  );
  const { SecretCipher } = fromDist<{ SecretCipher: new (key: Buffer) => unknown }>(
    'services/api-gateway/src/auth/secret.cipher',
  );
  const { partitionFor } = fromDist<{ partitionFor(key: string, partitions: number): number }>(
    'libs/kafka/src/index',
  );

  const config = cfgLib.loadConfig(
    cfgLib.databaseSchema.extend({
      API_KEY_ENCRYPTION_KEY: gwConfig.ApiGatewayConfigSchema.shape.API_KEY_ENCRYPTION_KEY,
    }),
  );
  const ds = db.createDataSource(config, { applicationName: 'loadtest-setup' });
  await ds.initialize();
  const accounts: LoadAccount[] = [];
  try {
    const accountsRepo = new db.AccountsRepository(ds);
    const issuer = new ApiKeyIssuer(
      new db.ApiKeysRepository(ds),
      new SecretCipher(gwConfig.decodeEncryptionKey(String(config.API_KEY_ENCRYPTION_KEY))),
    );
    for (const accountId of ids) {
      await accountsRepo.ensure(accountId, `load test ${accountId}`);
      const key = await issuer.issue(accountId, 'loadtest');
      accounts.push({ accountId, keyId: key.keyId, secret: key.secret });
    }
  } finally {
    await ds.destroy();
  }
  const partitions = Number(process.env.KAFKA_PARTITIONS ?? 12);
  const kafka = new Kafka({ clientId: 'loadtest-setup', brokers: kafkaBrokers(), logLevel: logLevel.WARN });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    const messages = ids.flatMap((accountId) =>
      assets.map((asset) => ({
        key: accountId,
        partition: partitionFor(accountId, partitions),
        value: JSON.stringify({
          kind: 'deposit',
          commandId: randomUUID(),
          accountId,
          asset,
          amount: depositAmount(asset),
          receivedAt: Date.now(),
        }),
      })),
    );
    await producer.send({ topic: ORDER_COMMANDS_TOPIC, acks: -1, messages });
  } finally {
    await producer.disconnect();
  }
  return accounts;
}

/** Every deposit applied, read in the database (one query per poll). */
async function depositsInDatabase(pool: Pool, runId: string, expected: number): Promise<string | null> {
  const { rows } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM balances WHERE account_id LIKE $1 AND available > 0`,
    [`lt-${runId}-%`],
  );
  return rows[0].n >= expected ? null : `${rows[0].n}/${expected} balances`;
}

/** Every deposit applied, read as each account sees it (GET /v1/balances, signed): no database. */
async function depositsThroughApi(
  baseUrl: string,
  accounts: LoadAccount[],
  assets: string[],
): Promise<string | null> {
  const funded = await pooled(accounts, 8, async (account) => {
    const spec = signedRequest(nodeHmac, account, 'GET', '/v1/balances', '', Date.now(), 'balances');
    const res = await fetch(`${baseUrl}${spec.path}`, { headers: spec.headers });
    if (res.status !== 200) return false;
    const { data: balances } = (await res.json()) as { data?: { asset: string; available: string }[] };
    return assets.every((a) => (balances ?? []).some((b) => b.asset === a && Number(b.available) > 0));
  });
  const n = funded.filter(Boolean).length;
  return n === accounts.length ? null : `${n}/${accounts.length} accounts funded`;
}

/**
 * Creates and funds the run's accounts; resolves once every deposit is applied. With `pool` (the
 * native platform) that is read in the database and a gateway without operator API is worked
 * around; without, only the gateway is used (operator API, then each account's balances), so it
 * works against any deployment whose gateway is reachable, e.g. the Swarm stack's edge.
 */
export async function setupAccounts(opts: {
  baseUrl: string;
  runId: string;
  count: number;
  symbols: string[];
  pool?: Pool;
  /** File holding the operator token (else operatorToken()'s defaults). */
  operatorTokenFile?: string;
  log: (m: string) => void;
}): Promise<LoadAccount[]> {
  const ids = Array.from({ length: opts.count }, (_, i) => runAccountId(opts.runId, i));
  const assets = assetsOf(opts.symbols);
  const token = operatorToken(opts.operatorTokenFile);
  let accounts: LoadAccount[] | null = null;
  if (token) {
    const probe = await fetch(`${opts.baseUrl}/v1/operator/deposits`, {
      method: 'POST',
      headers: { 'x-operator-token': token, 'content-type': 'application/json' },
      body: '{}',
    });
    if (probe.status !== 404) accounts = await viaOperatorApi(opts.baseUrl, token, ids, assets);
  }
  if (!accounts) {
    if (!opts.pool)
      throw new Error(
        `${opts.baseUrl}: ${token ? 'the gateway has no operator API' : 'no operator token'}; the accounts need both`,
      );
    opts.log('gateway has no operator API: accounts through the repositories, deposits straight to Kafka');
    accounts = await viaRepositoriesAndKafka(ids, assets);
  }
  const { pool } = opts;
  const funded = accounts;
  const missing = (): Promise<string | null> =>
    pool
      ? depositsInDatabase(pool, opts.runId, ids.length * assets.length)
      : depositsThroughApi(opts.baseUrl, funded, assets);
  const deadline = Date.now() + 60_000;
  for (let left = await missing(); left !== null; left = await missing()) {
    if (Date.now() > deadline) throw new Error(`deposits not applied after 60 s (${left})`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return accounts;
}
