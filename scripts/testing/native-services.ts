import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';

// Starts the built services (dist/) on the native ports for a test, unless something already
// listens there (a developer's `npm run platform`), and stops only what it started.
const root = join(__dirname, '../..');

export const SERVICE_PORTS = {
  'api-gateway': 8080,
  'order-router': 8081,
  'market-data': 8082,
  'matching-worker': 8090,
} as const;

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

export function secret(name: string): string {
  return readFileSync(join(root, 'native/.run/secrets', name), 'utf8').trim();
}

async function waitReady(port: number, child: ChildProcess, timeoutMs = 60_000): Promise<void> {
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`service on ${port} exited with ${child.exitCode}`);
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

export interface RunningServices {
  started: string[];
  stop(): Promise<void>;
}

export async function ensureServices(): Promise<RunningServices> {
  const children: ChildProcess[] = [];
  const started: string[] = [];
  const env = { ...process.env, ...nativeEnv(), LOG_LEVEL: 'warn' };
  for (const [name, port] of Object.entries(SERVICE_PORTS)) {
    if (await listening(port)) continue;
    const child = spawn(process.execPath, [join(root, `dist/services/${name}/src/main.js`)], {
      env: { ...env, HTTP_PORT: String(port), INSTANCE_ID: '0' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(child);
    started.push(name);
    await waitReady(port, child);
  }
  return {
    started,
    async stop() {
      await Promise.all(
        children.map(async (c) => {
          if (c.exitCode !== null) return;
          const exited = once(c, 'exit');
          c.kill('SIGTERM');
          await exited;
        }),
      );
    },
  };
}
