import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChaosLoad } from '../chaos/load';
import { until, type ExchangeClient } from './exchange-client';

export { until };

// The deployed Swarm stack as the tests see it: published ports on 127.0.0.1 for traffic, the
// Docker CLI for the operator's view (tasks, kills, updates, exec into a task for psql/reconcile).

export const ROOT = join(__dirname, '../..');
export const STACK = process.env.STACK ?? 'trading';
export const GATEWAY_URL = `http://127.0.0.1:${process.env.GATEWAY_PORT ?? '8080'}`;
export const PROMETHEUS_URL = `http://127.0.0.1:${process.env.PROMETHEUS_PORT ?? '9090'}`;
export const ALERTMANAGER_URL = `http://127.0.0.1:${process.env.ALERTMANAGER_PORT ?? '9093'}`;
export const APP_SERVICES = ['api-gateway', 'order-router', 'market-data', 'matching-worker'] as const;

/** The client swarm/lib/engine.sh picks: Debian's 20.10 client when present. */
export const DOCKER = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';

export function docker(...args: string[]): string {
  return execFileSync(DOCKER, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 120_000,
  }).trim();
}

/** `docker` with `input` on its stdin (e.g. `config create <name> -`). */
export function dockerWithInput(input: string, ...args: string[]): string {
  return execFileSync(DOCKER, args, { encoding: 'utf8', input, timeout: 120_000 }).trim();
}

/** A secret `npm run swarm -- up` generated (root-only files under swarm/.run/secrets). */
export function swarmSecret(name: string): string {
  return readFileSync(join(ROOT, 'swarm/.run/secrets', name), 'utf8').trim();
}

export const service = (name: string): string => `${STACK}_${name}`;

/** Ids of the running containers of a service's tasks. */
export function containers(name: string): string[] {
  const out = docker('ps', '-q', '--filter', `label=com.docker.swarm.service.name=${service(name)}`);
  return out ? out.split('\n') : [];
}

/** Runs a command in a running task of the service; returns stdout, throws on a non-zero exit. */
export function execIn(name: string, ...cmd: string[]): string {
  const [cid] = containers(name);
  if (!cid) throw new Error(`no running task of ${service(name)}`);
  const r = spawnSync(DOCKER, ['exec', cid, ...cmd], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0)
    throw new Error(`${cmd.join(' ')} in ${name} exited ${r.status}: ${r.stderr}${r.stdout}`);
  return r.stdout.trim();
}

/** One SQL query through psql in the database task (local socket), rows as tab-separated text. */
export function sql(query: string): string[][] {
  const out = execIn('timescaledb', 'psql', '-U', 'exchange', '-d', 'exchange', '-tAF', '\t', '-c', query);
  return out ? out.split('\n').map((l) => l.split('\t')) : [];
}

/** The platform's reconciliation, run in an order-router task: ok, or the issues it found. */
export function reconcile(): { ok: boolean; output: string } {
  const [cid] = containers('order-router');
  const r = spawnSync(
    DOCKER,
    ['exec', cid, 'node', '--enable-source-maps', 'dist/services/order-router/src/reconcile.main.js'],
    { encoding: 'utf8', timeout: 300_000 },
  );
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}`.trim() };
}

/** Desired replicas of a replicated service. */
export function replicas(name: string): number {
  return Number(
    docker('service', 'inspect', '--format', '{{.Spec.Mode.Replicated.Replicas}}', service(name)),
  );
}

/** Lists a fresh market `<base>-USDT` (ticks 0.01, lots 0.0001, fees 10/20 bps) the way an operator does today, in SQL. */
export async function listMarket(api: { public: ExchangeClient['public'] }, base: string): Promise<string> {
  const symbol = `${base}-USDT`;
  sql(`INSERT INTO assets (code, decimals) VALUES ('${base}', 8) ON CONFLICT DO NOTHING`);
  sql(
    `INSERT INTO markets (symbol, base_asset, quote_asset, tick_size, lot_size, min_qty_lots, min_notional, maker_fee_bps, taker_fee_bps)
     VALUES ('${symbol}', '${base}', 'USDT', '0.01', '0.0001', 1, '1', 10, 20) ON CONFLICT DO NOTHING`,
  );
  // The catalog reloads every 2 s.
  await until('market listed', async () => {
    const res = await api.public<{ data: { symbol: string }[] }>('/v1/markets');
    return res.body.data.some((m) => m.symbol === symbol) ? true : undefined;
  });
  return symbol;
}

/** Healthy running tasks of a service (containers whose healthcheck passes). */
export function healthyContainers(name: string): string[] {
  return containers(name).filter((cid) => {
    try {
      return (
        docker(
          'inspect',
          '--format',
          '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}',
          cid,
        ) === 'healthy'
      );
    } catch {
      return false;
    }
  });
}

/**
 * Waits until the service runs its desired replicas, all healthy, and (when `replacing` is given)
 * at least one of them is a container that was not among those; returns the seconds it took.
 */
export async function converged(
  name: string,
  replacing: string[] = [],
  timeoutMs = 180_000,
): Promise<number> {
  const started = Date.now();
  const want = replicas(name);
  await until(
    `${service(name)} back to ${want} healthy tasks`,
    () => {
      const healthy = healthyContainers(name);
      const fresh = replacing.length === 0 || healthy.some((c) => !replacing.includes(c));
      return healthy.length >= want && containers(name).length === want && fresh ? true : undefined;
    },
    timeoutMs,
    1_000,
  );
  return (Date.now() - started) / 1000;
}

/** The service's update status (`completed`, `rollback_completed`, `updating`, ...), or '' before any update. */
export function updateState(name: string): string {
  return docker(
    'service',
    'inspect',
    '--format',
    '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}',
    service(name),
  );
}

/** Every order the load saw acknowledged is stored exactly once, and the money reconciles. */
export async function nothingLostOrDoubled(
  load: ChaosLoad,
  symbol: string,
  log: (msg: string) => void,
): Promise<void> {
  const ids = [...load.acked.values()].map((a) => a.orderId);
  expect(load.stats.conflictingAcks).toBe(0);
  expect(load.stats.abandoned).toBe(0);
  const stored = await until(
    `all ${ids.length} acknowledged orders stored`,
    () => {
      let found = 0;
      for (let i = 0; i < ids.length; i += 500) {
        const list = ids
          .slice(i, i + 500)
          .map((id) => `'${id}'`)
          .join(',');
        found += Number(sql(`SELECT count(*) FROM orders WHERE order_id IN (${list})`)[0][0]);
      }
      return found === ids.length ? found : undefined;
    },
    180_000,
    3_000,
  );
  const doubled = sql(
    `SELECT count(*) FROM (SELECT account_id, client_order_id FROM orders WHERE symbol = '${symbol}'
      AND client_order_id IS NOT NULL GROUP BY 1, 2 HAVING count(*) > 1) d`,
  )[0][0];
  expect(doubled).toBe('0');
  const rec = await until(
    'reconciliation ok',
    () => (reconcile().ok ? reconcile() : undefined),
    120_000,
    5_000,
  );
  log(`${stored} acknowledged orders stored once each; ${rec.output.split('\n').at(-1)}`);
}
