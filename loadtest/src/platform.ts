// The native platform as the load driver sees it: repository paths, the connection settings in
// native/.run/env, and the platform's own built modules (dist/, from `npm run platform`).
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { Pool } from 'pg';

export const ROOT = resolve(__dirname, '../..');
export const RUN_DIR = join(ROOT, 'native/.run');
export const ENV_FILE = process.env.PLATFORM_ENV_FILE ?? join(RUN_DIR, 'env');

/** Reads native/.run/env into process.env (values already set win, as in the tests). */
export function loadPlatformEnv(): void {
  if (!existsSync(ENV_FILE)) throw new Error(`${ENV_FILE} not found: the native infrastructure is not up`);
  for (const line of readFileSync(ENV_FILE, 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m && process.env[m[1]] === undefined) process.env[m[1]] = m[2];
  }
}

function secretOf(name: string): string {
  const direct = process.env[name];
  if (direct) return direct;
  const file = process.env[`${name}_FILE`];
  if (!file) throw new Error(`${name} or ${name}_FILE must be set`);
  return readFileSync(file, 'utf8').trim();
}

/** A small pg pool on PgBouncer (as the services connect). */
export function dbPool(max = 4): Pool {
  return new Pool({
    host: process.env.DATABASE_HOST ?? '127.0.0.1',
    port: Number(process.env.DATABASE_PORT ?? 16432),
    database: process.env.DATABASE_NAME ?? 'exchange',
    user: process.env.DATABASE_USER ?? 'exchange',
    password: secretOf('DATABASE_PASSWORD'),
    max,
    application_name: 'loadtest',
  });
}

export function kafkaBrokers(): string[] {
  return (process.env.KAFKA_BROKERS ?? '127.0.0.1:19092')
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
}

/**
 * The gateway of this checkout's platform: BASE_URL, else API_GATEWAY_PORT (native/.run/env),
 * else 8080 + NATIVE_PORT_OFFSET (environment or native/ports.local.env), usable before the
 * platform is up.
 */
export function gatewayUrl(): string {
  if (process.env.BASE_URL) return process.env.BASE_URL.replace(/\/$/, '');
  if (process.env.API_GATEWAY_PORT) return `http://127.0.0.1:${process.env.API_GATEWAY_PORT}`;
  let offset = process.env.NATIVE_PORT_OFFSET;
  const local = join(ROOT, 'native/ports.local.env');
  if (offset === undefined && existsSync(local))
    offset = /^NATIVE_PORT_OFFSET=(\d+)/m.exec(readFileSync(local, 'utf8'))?.[1];
  return `http://127.0.0.1:${8080 + Number(offset ?? 0)}`;
}

/** `--name value` or `--name=value` of a command line. */
export function argValue(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  if (i >= 0) return argv[i + 1];
  const eq = argv.find((a) => a.startsWith(`--${name}=`));
  return eq?.slice(name.length + 3);
}

/** A fresh run id: UTC time to the second and 4 random characters (20 of the 30 allowed). */
export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  return `${stamp}-${Math.random().toString(36).slice(2, 6)}`;
}

/** Run ids name accounts (`lt-<runId>-NNNN`) and report directories. */
export function checkRunId(runId: string): string {
  if (!/^[A-Za-z0-9_.-]{1,30}$/.test(runId)) throw new Error('--run-id: 1-30 of [A-Za-z0-9_.-]');
  return runId;
}

export function prometheusUrl(): string {
  return process.env.PROMETHEUS_URL ?? 'http://127.0.0.1:19090';
}

// The platform's built code is loaded at run time from dist/ (the load project may not import
// services or libs by path: module boundaries). Only the few members used are typed here.
const distRequire = createRequire(join(ROOT, 'dist/'));

export function fromDist<T>(relative: string): T {
  const file = join(ROOT, 'dist', relative);
  if (!existsSync(`${file}.js`))
    throw new Error(`${file}.js missing: build with "node scripts/build.mjs" (npm run platform does)`);
  return distRequire(file) as T;
}

export interface DistApiKeys {
  issue(accountId: string, label?: string): Promise<{ accountId: string; keyId: string; secret: string }>;
}

/** Pid of a native service or infrastructure process from native/.run/pids, if running. */
export function pidOf(name: string): number | null {
  const file = join(RUN_DIR, 'pids', `${name}.pid`);
  if (!existsSync(file)) return null;
  const pid = Number(readFileSync(file, 'utf8').trim());
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

export const SERVICE_NAMES = [
  'api-gateway',
  'order-router',
  'matching-worker-0',
  'matching-worker-1',
  'matching-worker-2',
  'market-data',
];
export const INFRA_NAMES = [
  'kafka',
  'postgres',
  'pgbouncer',
  'redis',
  'redis-replica',
  'redis-sentinel-1',
  'redis-sentinel-2',
  'redis-sentinel-3',
  'prometheus',
  'alertmanager',
  'node-exporter',
];
