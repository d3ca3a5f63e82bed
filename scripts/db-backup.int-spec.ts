import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { databaseSchema, loadConfig } from '@trading/config';
import { MIGRATIONS } from '../libs/db/src/schema';
import {
  adminQuery,
  createScratchDatabase,
  insertSampleData,
  scratchDatabase,
  scratchName,
  tableChecksum,
  tableColumns,
  type ScratchDatabase,
} from '../libs/db/src/testing/scratch-database';

// Backup and restore with the operator's scripts (scripts/db-backup.sh, scripts/db-restore.sh) on
// real PostgreSQL: a migrated scratch database with a full data set is dumped, restored into a
// new database, and the copy must hold the same rows (counts and checksums of every table) and
// pass the platform's money reconciliation. Also: a restore never overwrites an existing
// database unless told (--clean, which then repairs it), and a broken archive leaves nothing.
const root = join(__dirname, '..');
const config = loadConfig(databaseSchema);

function run(script: string, args: string[]): { status: number | null; out: string } {
  const r = spawnSync('bash', [join(root, 'scripts', script), ...args], {
    env: process.env,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

async function snapshot(ds: DataSource): Promise<Record<string, { rows: number; md5: string }>> {
  const out: Record<string, { rows: number; md5: string }> = {};
  for (const [table, cols] of Object.entries(await tableColumns(ds)))
    out[table] = await tableChecksum(ds, table, cols);
  return out;
}

async function databaseExists(name: string): Promise<boolean> {
  const rows = (await adminQuery(
    config,
    `SELECT 1 FROM pg_database WHERE datname = '${name.replace(/'/g, "''")}'`,
  )) as unknown[];
  return rows.length > 0;
}

describe('database backup and restore', () => {
  jest.setTimeout(180_000);
  const dir = mkdtempSync(join(tmpdir(), 'db-backup-'));
  const dump = join(dir, 'source.dump');
  const scratch: ScratchDatabase[] = [];
  let source: DataSource;
  let copy: ScratchDatabase;
  let before: Record<string, { rows: number; md5: string }>;

  const open = async (db: ScratchDatabase, name: string): Promise<DataSource> => {
    const ds = db.dataSource(name);
    await ds.initialize();
    return ds;
  };

  beforeAll(async () => {
    const src = await createScratchDatabase(config, 'bktest_src');
    scratch.push(src);
    source = src.dataSource('bktest', MIGRATIONS);
    await source.initialize();
    await source.runMigrations({ transaction: 'each' });
    await insertSampleData(source);
    before = await snapshot(source);
    copy = scratchDatabase(config, scratchName('bktest_copy'));
    scratch.push(copy);

    const backup = run('db-backup.sh', ['-d', src.name, '-o', dump]);
    expect(backup.out).toContain('db-backup:');
    expect(backup.status).toBe(0);
  });

  afterAll(async () => {
    await source?.destroy();
    for (const db of scratch) await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes a complete custom-format archive and no partial file', () => {
    expect(statSync(dump).size).toBeGreaterThan(1000);
    expect(readFileSync(dump).subarray(0, 5).toString()).toBe('PGDMP');
    expect(existsSync(`${dump}.partial`)).toBe(false);
  });

  it('restores into a new database with every row, and the money reconciles there', async () => {
    const restore = run('db-restore.sh', [dump, copy.name]);
    expect(restore.out).toContain(`restored into ${copy.name}`);
    expect(restore.status).toBe(0);

    const ds = await open(copy, 'bktest-copy');
    try {
      const after = await snapshot(ds);
      for (const key of ['orders', 'trades', 'ledger', 'balances', 'accounts', 'schema_migrations'])
        expect(after[key].rows).toBeGreaterThan(0);
      expect(after).toEqual(before);
    } finally {
      await ds.destroy();
    }
    // `npm run reconcile` against the copy (direct port: PgBouncer serves the platform database only).
    const reconcile = join(root, 'dist/services/order-router/src/reconcile.main.js');
    expect(existsSync(reconcile)).toBe(true); // built by `node scripts/build.mjs`
    const r = spawnSync(process.execPath, [reconcile], {
      env: { ...process.env, DATABASE_NAME: copy.name, DATABASE_PORT: String(config.DATABASE_DIRECT_PORT) },
      encoding: 'utf8',
    });
    expect(r.stdout).toContain('"reconciliation":"ok"');
    expect(r.status).toBe(0);
  });

  it('refuses to restore over an existing database, and --clean puts its rows back', async () => {
    const refused = run('db-restore.sh', [dump, copy.name]);
    expect(refused.status).not.toBe(0);
    expect(refused.out).toContain('already exists');

    const ds = await open(copy, 'bktest-clean');
    try {
      await ds.query(`DELETE FROM trades WHERE seq > 10`);
      await ds.query(`UPDATE balances SET available = available + 1 WHERE account_id = 'trader-01'`);
      expect((await tableChecksum(ds, 'trades')).rows).toBeLessThan(before.trades.rows);
    } finally {
      await ds.destroy();
    }
    const clean = run('db-restore.sh', ['--clean', dump, copy.name]);
    expect(clean.status).toBe(0);
    const again = await open(copy, 'bktest-cleaned');
    try {
      expect(await snapshot(again)).toEqual(before);
    } finally {
      await again.destroy();
    }
  });

  it('leaves no database behind when the archive is broken', async () => {
    const broken = join(dir, 'broken.dump');
    const bytes = readFileSync(dump);
    // Table of contents intact, the data after it zeroed: a disk or copy gone wrong.
    writeFileSync(broken, Buffer.from(bytes).fill(0, Math.floor(bytes.length * 0.8)));
    const target = scratchDatabase(config, scratchName('bktest_broken'));
    scratch.push(target);
    const r = run('db-restore.sh', [broken, target.name]);
    expect(r.status).not.toBe(0);
    // It got as far as creating the database (the archive's table of contents is intact) ...
    expect(r.out).toContain(`dropping the half-made database ${target.name}`);
    // ... and dropped it again.
    expect(await databaseExists(target.name)).toBe(false);
  });
});
