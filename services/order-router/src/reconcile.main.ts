import { databaseSchema, loadConfig } from '@trading/config';
import { createDataSource, ReconciliationRepository } from '@trading/db';

// `node dist/services/order-router/src/reconcile.main.js`: checks the money invariants on the
// database (run it when the pipeline is idle: a fill settled on one side only is in flight).
// Prints one JSON line per discrepancy and a summary; exits 1 when anything is off.
async function main(): Promise<void> {
  const ds = createDataSource(loadConfig(databaseSchema), { applicationName: 'reconcile' });
  await ds.initialize();
  try {
    const issues = await new ReconciliationRepository(ds).all();
    for (const issue of issues) process.stdout.write(`${JSON.stringify(issue)}\n`);
    const [{ assets, accounts, entries }] = (await ds.query(
      `SELECT (SELECT count(DISTINCT asset) FROM balances)::int AS assets, (SELECT count(DISTINCT account_id) FROM balances)::int AS accounts, (SELECT count(*) FROM ledger)::int AS entries`,
    )) as { assets: number; accounts: number; entries: number }[];
    process.stdout.write(
      `${JSON.stringify({ reconciliation: issues.length === 0 ? 'ok' : 'FAILED', discrepancies: issues.length, assets, accounts, ledgerEntries: entries })}\n`,
    );
    process.exitCode = issues.length === 0 ? 0 : 1;
  } finally {
    await ds.destroy();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`reconcile failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
});
