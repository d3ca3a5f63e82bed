import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

// Starts the built services (dist/) on the native ports for a test, unless something already
// listens there (a developer's `npm run platform`), and stops only what it started.
const root = join(__dirname, '../..');

/** NATIVE_PORT_OFFSET of this checkout's native platform (native/lib/ports.sh), 0 by default. */
export const PORT_OFFSET = Number(process.env.NATIVE_PORT_OFFSET ?? 0);

/** A fixed test port moved by NATIVE_PORT_OFFSET, so two checkouts can test side by side. */
export function testPort(port: number): number {
  return port + PORT_OFFSET;
}

export const SERVICE_PORTS = {
  'api-gateway': Number(process.env.API_GATEWAY_PORT ?? testPort(8080)),
  'order-router': Number(process.env.ORDER_ROUTER_PORT ?? testPort(8081)),
  'market-data': Number(process.env.MARKET_DATA_PORT ?? testPort(8082)),
  'matching-worker': Number(process.env.MATCHING_WORKER_BASE_PORT ?? testPort(8090)),
} as const;

export const GATEWAY_URL = `http://127.0.0.1:${SERVICE_PORTS['api-gateway']}`;

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export function nativeEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(join(root, 'native/.run/env'), 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) env[m[1]] = m[2];
  }
  return env;
}

/**
 * What `npm run platform` seeds (assets, BTC-USDT and ETH-USDT, the fee account, demo keys), by
 * the gateway's own seed (idempotent); the demo keys go to a scratch file, not the developer's.
 * For tests of snippets written against `npm run platform`.
 */
export async function seedDemoPlatform(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'seed-'));
  try {
    await promisify(execFile)(process.execPath, ['dist/services/api-gateway/src/seed.main.js'], {
      cwd: root,
      env: { ...process.env, ...nativeEnv(), DEMO_KEYS_FILE: join(dir, 'demo-keys.json') },
      timeout: 60_000,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // The gateway's market catalog reloads every 2 s.
  for (const deadline = Date.now() + 20_000; ;) {
    const markets = (
      (await (await fetch(`${GATEWAY_URL}/v1/markets`)).json()) as { data: { symbol: string }[] }
    ).data;
    if (['BTC-USDT', 'ETH-USDT'].every((s) => markets.some((m) => m.symbol === s))) return;
    if (Date.now() > deadline) throw new Error('the seeded markets did not reach the gateway in 20 s');
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The pid of a native infrastructure process (native/.run/pids/<name>.pid: redis, kafka, ...). */
export function infraPid(name: string): number {
  return Number(readFileSync(join(root, 'native/.run/pids', `${name}.pid`), 'utf8').trim());
}

/** `native/infra.sh up`: starts whatever infrastructure is missing; returns how long it took. */
export function infraUp(): number {
  const started = Date.now();
  execFileSync('bash', [join(root, 'native/infra.sh'), 'up'], { cwd: root, stdio: 'ignore' });
  return Date.now() - started;
}

export function secret(name: string): string {
  return readFileSync(join(root, 'native/.run/secrets', name), 'utf8').trim();
}

/** Resolves when the service on `port` reports ready; fails fast if its process exits. */
export async function waitReady(port: number, child: ChildProcess, timeoutMs = 60_000): Promise<void> {
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`service on ${port} exited with ${child.exitCode ?? child.signalCode}`);
    }
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health/ready`)).status === 200) return;
    } catch {
      // not yet listening
    }
    if (Date.now() - started > timeoutMs)
      throw new Error(`service on ${port} not ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Starts a built service with the native infrastructure's settings: stdout dropped and stderr
 * shown, or both appended to the open file `logFd`.
 */
export function startService(
  name: string,
  port: number,
  instance: string,
  extraEnv: Record<string, string> = {},
  logFd?: number,
): ChildProcess {
  return spawn(process.execPath, [join(root, `dist/services/${name}/src/main.js`)], {
    env: {
      ...process.env,
      ...nativeEnv(),
      LOG_LEVEL: process.env.SERVICE_LOG_LEVEL ?? 'warn',
      HTTP_PORT: String(port),
      INSTANCE_ID: instance,
      ...extraEnv,
    },
    stdio: ['ignore', logFd ?? 'ignore', logFd ?? 'inherit'],
  });
}

/** SIGTERM, then wait for the exit; a process already gone is left alone. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

export interface RunningServices {
  started: string[];
  /** The pid of a service: the one started here, else the platform's (native/.run/pids). */
  pid(name: keyof typeof SERVICE_PORTS): number;
  stop(): Promise<void>;
}

export async function ensureServices(): Promise<RunningServices> {
  const children: ChildProcess[] = [];
  const started: string[] = [];
  const pids = new Map<string, number>();
  for (const [name, port] of Object.entries(SERVICE_PORTS)) {
    if (await listening(port)) continue;
    const child = startService(name, port, '0');
    children.push(child);
    started.push(name);
    if (child.pid) pids.set(name, child.pid);
    await waitReady(port, child);
  }
  return {
    started,
    pid(name) {
      const own = pids.get(name);
      if (own) return own;
      const file = join(
        root,
        'native/.run/pids',
        name === 'matching-worker' ? 'matching-worker-0.pid' : `${name}.pid`,
      );
      return Number(readFileSync(file, 'utf8').trim());
    },
    async stop() {
      await Promise.all(children.map(stopProcess));
    },
  };
}

/**
 * `bash native/platform.sh ARGS` with PLATFORM_DEMO=0 and `env` (SCALE_OUT=1, MATCHING_WORKERS=1,
 * ...): its output, or an error with all of it.
 */
export function platform(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 600_000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'bash',
      [join(root, 'native/platform.sh'), ...args],
      {
        cwd: root,
        env: { ...process.env, PLATFORM_DEMO: '0', ...env },
        timeout: timeoutMs,
        maxBuffer: 16 << 20,
      },
      (err, stdout, stderr) =>
        err
          ? reject(new Error(`platform ${args.join(' ')}: ${err.message}\n${stdout}${stderr}`))
          : resolve(stdout),
    );
  });
}

/** The pid in native/.run/pids/<file> (a service's `<name>.pid`, its `<name>.pid.supervisor`), if alive. */
export function platformPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(root, 'native/.run/pids', file), 'utf8').trim());
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}
