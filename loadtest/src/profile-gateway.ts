// CPU profile of a running service without restarting it: SIGUSR1 opens its inspector on
// 127.0.0.1:9229, then the DevTools protocol records a profile for N seconds.
//   node -r @swc-node/register loadtest/src/profile-gateway.ts [--service api-gateway] [--seconds 20] [--out file]
//        [--inspect-port 9229]  (the port the service was started with: NODE_OPTIONS=--inspect-port=N)
// Writes a .cpuprofile (open in Chrome DevTools) and prints the top functions by self time.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ROOT, pidOf } from './platform';

interface CdpSocket {
  on(event: 'open' | 'message' | 'error', fn: (data?: unknown) => void): void;
  send(data: string): void;
  close(): void;
}
// `ws` ships without types here (it comes with @nestjs/platform-ws).
const WebSocket = createRequire(__filename)('ws') as new (url: string) => CdpSocket;

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
}

async function main(): Promise<void> {
  const service = arg('service', 'api-gateway');
  const seconds = Number(arg('seconds', '20'));
  const out = arg('out', `${service}-${Date.now()}.cpuprofile`);
  const inspectPort = Number(arg('inspect-port', '9229'));
  const pid = pidOf(service);
  if (!pid) throw new Error(`${service} is not running`);
  process.kill(pid, 'SIGUSR1');
  await new Promise((r) => setTimeout(r, 1000));
  const list = (await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`)).json()) as {
    webSocketDebuggerUrl: string;
  }[];
  const ws = new WebSocket(list[0].webSocketDebuggerUrl);
  let id = 0;
  const waiting = new Map<number, (v: unknown) => void>();
  const call = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<unknown>((resolve) => {
      id += 1;
      waiting.set(id, resolve);
      ws.send(JSON.stringify({ id, method, params }));
    });
  ws.on('message', (data) => {
    const msg = JSON.parse(String(data)) as { id?: number; result?: unknown };
    if (msg.id && waiting.has(msg.id)) waiting.get(msg.id)!(msg.result);
  });
  await new Promise<void>((r, j) => {
    ws.on('open', () => r());
    ws.on('error', (e) => j(e as Error));
  });
  await call('Profiler.enable');
  await call('Profiler.setSamplingInterval', { interval: 1000 });
  await call('Profiler.start');
  process.stdout.write(`[profile] ${service} (pid ${pid}) for ${seconds} s\n`);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const { profile } = (await call('Profiler.stop')) as {
    profile: { nodes: ProfileNode[]; samples: number[] };
  };
  ws.close();
  writeFileSync(out, JSON.stringify(profile));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  for (const s of profile.samples) {
    const n = byId.get(s)!;
    const file = n.callFrame.url.replace(/^file:\/\//, '').replace(`${ROOT}/`, '');
    const key = `${n.callFrame.functionName || '(anonymous)'} ${file}:${n.callFrame.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + 1);
  }
  const total = profile.samples.length;
  const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 30);
  process.stdout.write(`[profile] wrote ${out}; top self time of ${total} samples:\n`);
  for (const [k, n] of top) process.stdout.write(`${((n / total) * 100).toFixed(1).padStart(5)}%  ${k}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`[profile] failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
});
