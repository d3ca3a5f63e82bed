import { databaseSchema, loadConfig } from '@trading/config';
import { createDataSource } from './data-source.factory';
import { ENTITIES, MIGRATIONS } from './schema';

// Runs pending migrations over a direct connection (migrations need a session, PgBouncer's
// transaction pooling does not give one). Exits non-zero on any failure.
async function main(): Promise<void> {
  const config = loadConfig(databaseSchema);
  const ds = createDataSource(config, {
    direct: true,
    applicationName: 'migrate',
    entities: ENTITIES,
    migrations: MIGRATIONS,
  });
  await ds.initialize();
  try {
    const applied = await ds.runMigrations({ transaction: 'each' });
    process.stdout.write(
      `${JSON.stringify({ msg: 'migrations applied', count: applied.length, names: applied.map((m) => m.name) })}\n`,
    );
  } finally {
    await ds.destroy();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
