// WebSocket delivery during a run, as a trader's client sees it: one subscriber on the public
// `trades:<symbol>` channels of the gateway records when each trade's frame arrives; after the
// run, each trade's gateway receipt time (the taker command's `receivedAt`, carried on its
// executions.v1 record) gives receipt -> frame at the client. Same machine, same clock.

// eslint-disable-next-line @typescript-eslint/no-require-imports
const WebSocketImpl = require('ws') as new (url: string) => {
  on(event: 'message', cb: (data: Buffer) => void): void;
  on(event: 'open', cb: () => void): void;
  on(event: 'error', cb: (err: Error) => void): void;
  send(data: string): void;
  close(): void;
};

export interface WsDelivery {
  /** Trades of the run whose frame arrived. */
  delivered: number;
  /** Trades of the run (from executions.v1) whose frame never arrived. */
  missed: number;
  /** Gateway receipt of the taker order -> the trade's frame at the subscriber, seconds. */
  p50: number | null;
  p99: number | null;
  max: number | null;
}

export class TradeFrameWatcher {
  /** `${symbol}:${seq}` (the public tradeId) -> arrival time, epoch ms. */
  private readonly arrivals = new Map<string, number>();
  private readonly ws;
  private readonly ready: Promise<void>;

  constructor(baseUrl: string, symbols: string[]) {
    this.ws = new WebSocketImpl(`${baseUrl.replace(/^http/, 'ws')}/v1/stream`);
    this.ws.on('message', (d) => this.onFrame(d));
    this.ready = new Promise((resolve, reject) => {
      this.ws.on('error', reject);
      this.ws.on('open', () => {
        for (const s of symbols) this.ws.send(JSON.stringify({ op: 'subscribe', channel: `trades:${s}` }));
        resolve();
      });
    });
  }

  /** Resolves once the socket is open and the subscriptions are sent. */
  async open(): Promise<void> {
    await this.ready;
  }

  close(): void {
    this.ws.close();
  }

  private onFrame(d: Buffer): void {
    const at = Date.now();
    const m = JSON.parse(d.toString()) as { type?: string; data?: unknown };
    if (m.type !== 'update') return;
    for (const t of Array.isArray(m.data) ? m.data : [m.data]) {
      const id = (t as { tradeId?: unknown } | null)?.tradeId;
      if (typeof id === 'string' && !this.arrivals.has(id)) this.arrivals.set(id, at);
    }
  }

  /** Delivery of the run's trades: `trades` maps `${symbol}:${seq}` to its receipt time (ms). */
  report(trades: Map<string, number>): WsDelivery {
    const seconds: number[] = [];
    let missed = 0;
    for (const [id, receivedAt] of trades) {
      const at = this.arrivals.get(id);
      if (at === undefined) missed++;
      else seconds.push((at - receivedAt) / 1000);
    }
    seconds.sort((a, b) => a - b);
    const q = (p: number): number | null =>
      seconds.length ? seconds[Math.min(seconds.length - 1, Math.ceil(p * seconds.length) - 1)] : null;
    return { delivered: seconds.length, missed, p50: q(0.5), p99: q(0.99), max: q(1) };
  }
}
