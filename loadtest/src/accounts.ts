// `npm run load:accounts -- --out FILE`: the ACCOUNTS_FILE of the k6 jobs (loadtest/k6/common.ts).
// Creates --count fresh accounts (`lt-<run-id>-NNNN`), an API key each, through the gateway's
// operator API (POST /v1/operator/accounts, /v1/operator/deposits), deposits every asset of
// --symbols, waits until each account sees its balances (GET /v1/balances, signed), and writes a
// JSON array of {accountId, keyId, secret}. Only the gateway is needed, so it serves the native
// platform and a deployed stack alike (Swarm: the edge on 127.0.0.1:8080 and
// swarm/.run/secrets/operator_token; Compose: compose/secrets/operator_token).
//
// Options: --base-url URL (else BASE_URL, else the native gateway)
//          --operator-token-file FILE (else OPERATOR_TOKEN, OPERATOR_TOKEN_FILE, native/.run/secrets/operator_token)
//          --count N (100) --symbols A,B (BTC-USDT,ETH-USDT) --run-id ID (fresh)
//          --out FILE (loadtest/reports/<run-id>/accounts.json)
//          --mode 600 (octal; Compose bind-mounts its secrets with the host's mode and owner and k6
//          runs as another user, so that file wants 644 inside the 0700 compose/secrets/)
import { join } from 'node:path';
import { MARKETS, type LoadAccount } from './scenario';
import { ROOT, argValue, checkRunId, gatewayUrl, newRunId } from './platform';
import { setupAccounts, writeAccountsFile } from './setup';

export async function main(
  argv: string[],
  log: (m: string) => void,
): Promise<{ file: string; accounts: LoadAccount[] }> {
  const runId = checkRunId(argValue(argv, 'run-id') ?? newRunId());
  const baseUrl = (argValue(argv, 'base-url') ?? gatewayUrl()).replace(/\/$/, '');
  const count = Number(argValue(argv, 'count') ?? 100);
  if (!Number.isInteger(count) || count <= 0) throw new Error('--count must be a positive integer');
  const symbols = (argValue(argv, 'symbols') ?? 'BTC-USDT,ETH-USDT').split(',').filter(Boolean);
  const unknown = symbols.filter((s) => !(s in MARKETS));
  if (unknown.length > 0)
    throw new Error(`--symbols: ${unknown.join(',')} not in ${Object.keys(MARKETS).join(',')}`);
  const mode = argValue(argv, 'mode') ?? '600';
  if (!/^[0-7]{3,4}$/.test(mode)) throw new Error('--mode: octal, like 600 or 644');
  const file = argValue(argv, 'out') ?? join(ROOT, 'loadtest/reports', runId, 'accounts.json');

  const t0 = Date.now();
  const accounts = await setupAccounts({
    baseUrl,
    runId,
    count,
    symbols,
    operatorTokenFile: argValue(argv, 'operator-token-file'),
    log,
  });
  writeAccountsFile(file, accounts, parseInt(mode, 8));
  log(
    `${accounts.length} accounts funded on ${baseUrl} in ${((Date.now() - t0) / 1000).toFixed(1)} s; ` +
      `written to ${file} (API secrets: keep it out of git)`,
  );
  return { file, accounts };
}

if (require.main === module) {
  main(process.argv.slice(2), (m) => process.stdout.write(`[load:accounts] ${m}\n`)).catch((err: unknown) => {
    // fetch's own message is "fetch failed"; its cause says which connection and why.
    const cause = err instanceof Error && err.cause instanceof Error ? ` (${err.cause.message})` : '';
    process.stderr.write(
      `[load:accounts] failed: ${err instanceof Error ? err.message : String(err)}${cause}\n`,
    );
    process.exit(2);
  });
}
