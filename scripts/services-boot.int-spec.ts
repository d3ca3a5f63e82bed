import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { testPort } from './testing/native-services';

// Boots each built service (npm test builds dist/ first) against the real infrastructure and
// checks the operator-facing contract: ready, Prometheus text, clean exit on SIGTERM.
const root = join(__dirname, '..');
const services = [
  { name: 'api-gateway', deps: ['kafka', 'database', 'redis'] },
  { name: 'order-router', deps: ['kafka', 'database', 'redis'] },
  { name: 'matching-worker', deps: ['kafka', 'database'] },
  { name: 'market-data', deps: ['kafka', 'database', 'redis'] },
];

async function waitReady(
  url: string,
  child: ChildProcess,
  timeoutMs = 60_000,
): Promise<Record<string, unknown>> {
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
    try {
      const res = await fetch(url);
      if (res.status === 200) return (await res.json()) as Record<string, unknown>;
    } catch {
      // not listening yet
    }
    if (Date.now() - started > timeoutMs) throw new Error(`${url} not ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe.each(services.map((s, i) => ({ ...s, port: testPort(18700 + i) })))(
  '$name',
  ({ name, deps, port }) => {
    jest.setTimeout(90_000);

    it('becomes ready on every dependency, serves metrics and exits cleanly on SIGTERM', async () => {
      const output: string[] = [];
      const child = spawn(process.execPath, [join(root, `dist/services/${name}/src/main.js`)], {
        env: { ...process.env, HTTP_PORT: String(port), INSTANCE_ID: `boot-test-${port}`, LOG_LEVEL: 'info' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout!.on('data', (d: Buffer) => output.push(d.toString()));
      child.stderr!.on('data', (d: Buffer) => output.push(d.toString()));
      try {
        const ready = await waitReady(`http://127.0.0.1:${port}/health/ready`, child);
        expect(Object.keys(ready.info as object).sort()).toEqual([...deps].sort());

        const live = await fetch(`http://127.0.0.1:${port}/health/live`);
        expect(live.status).toBe(200);

        const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
        expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
        const text = await metrics.text();
        expect(text).toContain(`nodejs_eventloop_lag_seconds{service="${name}"`);
        expect(text).toMatch(/http_server_request_duration_seconds_bucket\{.*route="\/health\/ready"/);

        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        const [code] = (await exited) as [number | null];
        expect(code).toBe(0);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      // Structured JSON logs with the correlation id of each request.
      const lines = output
        .join('')
        .split('\n')
        .filter((l) => l.startsWith('{'));
      expect(lines.length).toBeGreaterThan(0);
      expect(lines.map((l) => JSON.parse(l) as { service: string })[0].service).toBe(name);
    });
  },
);
