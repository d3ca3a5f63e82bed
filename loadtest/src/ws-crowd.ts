// Many WebSocket users at once (issue 23 item 6): `npm run load -- --ws-clients 10000` runs this
// file as a child process (its own CPU, apart from the load driver's), which opens that many
// sockets to the gateway from 127.0.0.1, subscribes each to `depth:<symbol>` and
// `trades:<symbol>` of one of the run's symbols (round robin), and records, for every update frame
// every socket receives, the engine's event time -> the frame's arrival (the update's `time`,
// stamped by the matching engine; same machine, same clock). The parent asks for the report after
// the run. Frames are counted per socket so a socket the gateway dropped or starved shows.
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const WebSocketImpl = require('ws') as new (
  url: string,
  options?: { perMessageDeflate?: boolean },
) => {
  on(event: 'message', cb: (data: Buffer) => void): void;
  on(event: 'open' | 'close', cb: () => void): void;
  on(event: 'error', cb: (err: Error) => void): void;
  send(data: string): void;
  terminate(): void;
};

/** Delivery of one kind of update, engine event -> frame at a client, seconds. */
export interface CrowdDelivery {
  frames: number;
  p50: number | null;
  p99: number | null;
  max: number | null;
}

export interface CrowdReport {
  /** Sockets asked for, opened and subscribed to both channels, and closed before the end. */
  requested: number;
  subscribed: number;
  closedEarly: number;
  failedToOpen: number;
  /** Seconds from the first connect to the last subscription confirmed. */
  openSeconds: number;
  depth: CrowdDelivery;
  trades: CrowdDelivery;
  /** Sockets that got no update frame at all while the run traded. */
  starved: number;
  /** The crowd process's own CPU over its life, % of one core (is the client the bottleneck?). */
  clientCpuPct: number;
}

/** Millisecond histogram up to 60 s (the last slot counts everything later). */
class MsHistogram {
  private readonly counts = new Uint32Array(60_001);
  private n = 0;
  private maxMs = 0;

  add(ms: number): void {
    const slot = Math.min(Math.max(0, Math.round(ms)), 60_000);
    this.counts[slot]++;
    this.n++;
    if (ms > this.maxMs) this.maxMs = ms;
  }

  report(): CrowdDelivery {
    const at = (p: number): number | null => {
      if (!this.n) return null;
      const rank = Math.ceil(this.n * p);
      let seen = 0;
      for (let i = 0; i < this.counts.length; i++) {
        seen += this.counts[i];
        if (seen >= rank) return i / 1000;
      }
      return 60;
    };
    return { frames: this.n, p50: at(0.5), p99: at(0.99), max: this.n ? this.maxMs / 1000 : null };
  }
}

/** The event times an update frame carries: a depth snapshot's `time`, each trade's `time`. */
export function updateTimes(frame: string): { kind: 'depth' | 'trades'; times: number[] } | null {
  const m = JSON.parse(frame) as { type?: string; channel?: string; data?: unknown };
  if (m.type !== 'update' || typeof m.channel !== 'string') return null;
  const kind = m.channel.startsWith('depth:') ? 'depth' : m.channel.startsWith('trades:') ? 'trades' : null;
  if (!kind) return null;
  const items = Array.isArray(m.data) ? m.data : [m.data];
  const times = items
    .map((d) => (d as { time?: unknown } | null)?.time)
    .filter((t): t is number => typeof t === 'number');
  return { kind, times };
}

async function runCrowd(
  baseUrl: string,
  symbols: string[],
  count: number,
  depthEvery: string,
): Promise<void> {
  const url = `${baseUrl.replace(/^http/, 'ws')}/v1/stream`;
  const depth = new MsHistogram();
  const trades = new MsHistogram();
  const framesPerSocket = new Uint32Array(count);
  let subscribed = 0;
  let closedEarly = 0;
  let failedToOpen = 0;
  let finished = false;
  const sockets: { terminate(): void }[] = [];
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();

  const openOne = (i: number): Promise<void> =>
    new Promise((resolve) => {
      const symbol = symbols[i % symbols.length];
      const ws = new WebSocketImpl(url, { perMessageDeflate: false });
      sockets.push(ws);
      let acks = 0;
      let opened = false;
      // A socket not subscribed to both channels in time counts as failed; the crowd goes on.
      let gaveUp = false;
      const giveUp = setTimeout(() => {
        gaveUp = true;
        failedToOpen++;
        ws.terminate();
        resolve();
      }, 30_000);
      ws.on('open', () => {
        opened = true;
        const depth = depthEvery ? `depth:${symbol}@${depthEvery}` : `depth:${symbol}`;
        ws.send(JSON.stringify({ op: 'subscribe', channel: depth }));
        ws.send(JSON.stringify({ op: 'subscribe', channel: `trades:${symbol}` }));
      });
      ws.on('message', (data) => {
        const text = data.toString();
        // A market channel's subscription is answered by its snapshot.
        if (acks < 2 && (text.startsWith('{"type":"snapshot"') || text.startsWith('{"type":"subscribed"'))) {
          if (++acks === 2) {
            clearTimeout(giveUp);
            subscribed++;
            resolve();
          }
          return;
        }
        const u = updateTimes(text);
        if (!u) return;
        framesPerSocket[i]++;
        const now = Date.now();
        const h = u.kind === 'depth' ? depth : trades;
        for (const t of u.times) h.add(now - t);
      });
      ws.on('error', () => {
        if (!opened) {
          clearTimeout(giveUp);
          failedToOpen++;
          resolve();
        }
      });
      ws.on('close', () => {
        clearTimeout(giveUp);
        if (opened && !finished && !gaveUp) closedEarly++;
        resolve();
      });
    });

  // Bounded concurrency: a connection storm would measure the accept queue, not the gateway.
  let next = 0;
  const opener = async (): Promise<void> => {
    while (next < count) await openOne(next++);
  };
  await Promise.all(Array.from({ length: Math.min(200, count) }, opener));
  const openSeconds = (Date.now() - t0) / 1000;
  process.send?.({ type: 'ready', subscribed, failedToOpen, openSeconds });

  // Frames counted from here on: the parent says when the trading starts.
  process.on('message', (msg: { type?: string }) => {
    if (msg.type === 'start') {
      framesPerSocket.fill(0);
      return;
    }
    if (msg.type !== 'report') return;
    finished = true;
    const used = process.cpuUsage(cpu0);
    const report: CrowdReport = {
      requested: count,
      subscribed,
      closedEarly,
      failedToOpen,
      openSeconds,
      depth: depth.report(),
      trades: trades.report(),
      starved: framesPerSocket.filter((n) => n === 0).length,
      clientCpuPct: Math.round(((used.user + used.system) / 1000 / (Date.now() - t0)) * 1000) / 10,
    };
    for (const ws of sockets) ws.terminate();
    process.send?.({ type: 'report', report }, () => process.exit(0));
  });
}

/** The parent's handle on a crowd child process. */
export class WsCrowd {
  private constructor(
    private readonly child: ChildProcess,
    readonly ready: { subscribed: number; failedToOpen: number; openSeconds: number },
  ) {}

  /** Forks the crowd (same Node flags as this process) and resolves once every socket subscribed. */
  static async open(baseUrl: string, symbols: string[], count: number, depthEvery = ''): Promise<WsCrowd> {
    const child = fork(__filename, ['--crowd', baseUrl, symbols.join(','), String(count), depthEvery], {
      execArgv: process.execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const [msg] = (await once(child, 'message')) as [{ type: string } & WsCrowd['ready']];
    if (msg.type !== 'ready') throw new Error(`ws crowd: unexpected ${msg.type}`);
    return new WsCrowd(child, {
      subscribed: msg.subscribed,
      failedToOpen: msg.failedToOpen,
      openSeconds: msg.openSeconds,
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Frames per socket count from now (the trading starts). */
  start(): void {
    this.child.send({ type: 'start' });
  }

  async report(): Promise<CrowdReport> {
    const got = once(this.child, 'message') as Promise<[{ type: string; report: CrowdReport }]>;
    this.child.send({ type: 'report' });
    const [msg] = await got;
    return msg.report;
  }
}

if (require.main === module && process.argv[2] === '--crowd') {
  const [baseUrl, symbols, count, depthEvery] = process.argv.slice(3);
  void runCrowd(baseUrl, symbols.split(','), Number(count), depthEvery ?? '');
}
