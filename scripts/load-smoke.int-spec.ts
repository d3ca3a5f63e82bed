import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureServices, nativeEnv, type RunningServices } from './testing/native-services';

// The load command's smoke variant: 50 orders/s for 5 s over 10 fresh accounts on the native
// platform (started by the command when it is not up), then the full reconciliation. Fails on
// any failed request or reconciliation finding.
const root = join(__dirname, '..');

describe('npm run load -- --smoke', () => {
  // The run itself takes ~15 s; the allowance covers `npm run platform` on a cold CI box.
  jest.setTimeout(240_000);

  // The services run for this suite only (started unless a developer's platform is up), so the
  // suites after it find the native ports as they were.
  let services: RunningServices;
  beforeAll(async () => {
    // The markets the scenario trades (BTC-USDT, ETH-USDT), as `npm run platform` seeds them.
    execFileSync(process.execPath, [join(root, 'dist/services/api-gateway/src/seed.main.js')], {
      env: { ...process.env, ...nativeEnv() },
      stdio: 'ignore',
    });
    services = await ensureServices();
  });
  afterAll(async () => {
    await services?.stop();
  });

  it('drives signed orders through the pipeline and reconciles clean', async () => {
    const runId = `smoke-${Date.now().toString(36)}`;
    const output: string[] = [];
    const child = spawn(
      process.execPath,
      ['-r', '@swc-node/register', join(root, 'loadtest/src/run-load.ts'), '--smoke', '--run-id', runId],
      {
        cwd: root,
        env: { ...process.env, FORCE_COLOR: '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child.stdout.on('data', (d: Buffer) => output.push(d.toString()));
    child.stderr.on('data', (d: Buffer) => output.push(d.toString()));
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    if (code !== 0) throw new Error(`load --smoke exited ${code}:\n${output.join('').slice(-6000)}`);

    const dir = join(root, 'loadtest/reports', runId);
    const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as {
      achieved: { requests: number; planned: number; notSent: number };
      failedRequests: number;
      reconciliation: { ok: boolean; acknowledged: { acknowledged: number; missing: number } };
    };
    // 250 planned. vegeta stops at -duration without catching up: on a saturated machine a stall
    // just before the end leaves a hit or two unsent (CI saw 247 and 248: a 62 ms gap between hits
    // at 4.92 s, none after 4.98 s). More than 2 % unsent would be the driver falling behind.
    expect(summary.achieved.planned).toBe(250);
    expect(summary.achieved.requests).toBeGreaterThanOrEqual(245);
    expect(summary.achieved.requests).toBeLessThanOrEqual(250);
    expect(summary.achieved.notSent).toBe(250 - summary.achieved.requests);
    expect(summary.failedRequests).toBe(0);
    expect(summary.reconciliation.ok).toBe(true);
    expect(summary.reconciliation.acknowledged.missing).toBe(0);
    expect(summary.reconciliation.acknowledged.acknowledged).toBeGreaterThan(100);
    expect(existsSync(join(dir, 'plot.html'))).toBe(true);
  });
});
