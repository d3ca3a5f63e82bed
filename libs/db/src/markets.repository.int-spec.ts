import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { databaseSchema, loadConfig } from '@trading/config';
import { createDataSource } from './data-source.factory';
import { pgArray } from './pg-array';
import { MarketsRepository } from './repositories/markets.repository';
import { ENTITIES, MIGRATIONS } from './schema';

// Real PostgreSQL: migrations over the direct connection, everything else through PgBouncer.
const config = loadConfig(databaseSchema);

/** A new asset (`prefix` + 6 characters) listed against USDT with tick 0.01, lot 0.0001. */
async function listFreshMarket(repo: MarketsRepository, prefix: string): Promise<string> {
  const code = `${prefix}${randomUUID().replace(/-/g, '').slice(0, 6).toUpperCase()}`;
  await repo.upsertAsset(code, 8);
  await repo.upsertAsset('USDT', 6);
  const symbol = `${code}-USDT`;
  await repo.upsertMarket({
    symbol,
    baseAsset: code,
    quoteAsset: 'USDT',
    tickSize: '0.01',
    lotSize: '0.0001',
  });
  return symbol;
}

describe('database through PgBouncer', () => {
  jest.setTimeout(60_000);
  const direct = createDataSource(config, {
    direct: true,
    applicationName: 'int-spec-migrate',
    entities: ENTITIES,
    migrations: MIGRATIONS,
  });
  const pooled = createDataSource(config, { applicationName: 'int-spec', entities: ENTITIES });

  beforeAll(async () => {
    await direct.initialize();
    await direct.runMigrations({ transaction: 'each' });
    await pooled.initialize();
  });

  afterAll(async () => {
    await pooled.destroy();
    await direct.destroy();
  });

  it('goes through PgBouncer, not straight to PostgreSQL', async () => {
    await pooled.query('SELECT 1');
    // PgBouncer's admin console lists its clients: our pool must be one of them.
    const admin = new Client({
      host: config.DATABASE_HOST,
      port: config.DATABASE_PORT,
      user: config.DATABASE_USER,
      password: config.DATABASE_PASSWORD,
      database: 'pgbouncer',
    });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ database: string; application_name: string }>('SHOW CLIENTS');
      expect(rows).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ database: config.DATABASE_NAME, application_name: 'int-spec' }),
        ]),
      );
    } finally {
      await admin.end();
    }
  });

  it('writes and reads markets idempotently', async () => {
    const repo = new MarketsRepository(pooled);
    const symbol = await listFreshMarket(repo, 'T');
    const code = symbol.split('-')[0];
    await repo.upsertAsset(code, 8);
    await repo.upsertMarket({
      symbol,
      baseAsset: code,
      quoteAsset: 'USDT',
      tickSize: '0.05',
      lotSize: '0.0001',
    });
    const market = (await repo.findAll()).find((m) => m.symbol === symbol);
    expect(market).toMatchObject({
      symbol,
      baseAsset: code,
      quoteAsset: 'USDT',
      lotSize: '0.000100000000000000',
    });
    // NUMERIC stays exact: a string, never a float.
    expect(market?.tickSize).toBe('0.050000000000000000');
  });

  it('answers the same catalog digest until a market is added or changed', async () => {
    const repo = new MarketsRepository(pooled);
    const before = await repo.catalogDigest();
    expect(await repo.catalogDigest()).toBe(before);
    const symbol = await listFreshMarket(repo, 'D');
    const added = await repo.catalogDigest();
    expect(added).not.toBe(before);
    expect(await repo.catalogDigest()).toBe(added);
    expect(await repo.setFees(symbol, 5, 7)).toBe(true);
    const fees = await repo.catalogDigest();
    expect(fees).not.toBe(added);
    // The rows findRows reads are what the digest covers.
    expect((await repo.findRows()).find((m) => m.symbol === symbol)).toMatchObject({
      makerFeeBps: 5,
      takerFeeBps: 7,
    });
    expect(await repo.setFees(symbol, 5, 7)).toBe(true);
    expect(await repo.catalogDigest()).toBe(fees);
  });

  it('refuses a market whose step is not positive', async () => {
    const repo = new MarketsRepository(pooled);
    await repo.upsertAsset('USDT', 6);
    await expect(
      repo.upsertMarket({
        symbol: 'BAD-USDT',
        baseAsset: 'USDT',
        quoteAsset: 'USDT',
        tickSize: '0',
        lotSize: '1',
      }),
    ).rejects.toThrow();
  });
  it('reads back every array literal pgArray writes, element for element', async () => {
    const texts = [
      'a',
      'b c',
      '',
      'NULL',
      '{x,y}',
      'say "hi"',
      'back\\slash',
      'ünï ✓',
      'line\nbreak "q"\t\\',
      null,
    ];
    const payloads = [{ k: 'v "q" \\ \n', n: 3 }, { empty: '' }];
    const [row] = (await pooled.query(
      'SELECT $1::text[] AS t, $2::jsonb[]::text[] AS j, $3::bigint[]::text[] AS b, $4::boolean[] AS f',
      [
        pgArray(texts),
        pgArray(payloads.map((p) => JSON.stringify(p))),
        pgArray([1, -2, 2n ** 62n, null]),
        pgArray([true, false]),
      ],
    )) as { t: (string | null)[]; j: string[]; b: (string | null)[]; f: boolean[] }[];
    expect(row.t).toEqual(texts);
    expect(row.j.map((x) => JSON.parse(x) as unknown)).toEqual(payloads);
    expect(row.b).toEqual(['1', '-2', (2n ** 62n).toString(), null]);
    expect(row.f).toEqual([true, false]);
  });
});
