// Vegeta targets from the shared scenario: one JSON target per line (`vegeta attack -format=json
// -lazy`), body base64, signed with node:crypto. Targets are made as vegeta reads them (the
// write side waits for the pipe to drain), so signatures are at most a pipe-buffer old: the
// gateway refuses timestamps more than 5 s off.
//
// Standalone: node -r @swc-node/register loadtest/src/vegeta-targets.ts \
//     --accounts accounts.json [--symbols BTC-USDT,ETH-USDT] [--base-url http://127.0.0.1:8080] \
//   | vegeta attack -format=json -lazy -rate=500 -duration=10s | vegeta report
// (standalone there is no feedback of order ids, so cancels and amends become placements;
// run-load.ts feeds results back.)
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { Scenario, type LoadAccount, type PlannedRequest, type ScenarioOptions } from './scenario';

export const nodeHmac = (secret: string, message: string): string =>
  createHmac('sha256', secret).update(message).digest('hex');

/** One vegeta JSON target line (with the trailing newline). */
export function vegetaTarget(baseUrl: string, p: PlannedRequest): string {
  const r = p.request;
  const header: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(r.headers)) header[k] = [v];
  const target: Record<string, unknown> = { method: r.method, url: `${baseUrl}${r.path}`, header };
  if (r.body !== '') target.body = Buffer.from(r.body).toString('base64');
  return `${JSON.stringify(target)}\n`;
}

/**
 * Writes targets to `out` (vegeta's stdin) while it keeps reading; remembers what each
 * correlation id was for so results can be fed back with `onResult`.
 */
export class TargetFeeder {
  readonly scenario: Scenario;
  private readonly inFlight = new Map<string, PlannedRequest>();
  private stopped = false;
  private startedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  generated = 0;
  /** Results seen so far (the driver counts them): what vegeta has really consumed, minus in-flight. */
  answered = 0;
  private recent: { at: number; answered: number }[] = [];

  /**
   * `rate` (targets/s) paces generation: `leadSeconds` of targets ahead of the attack, signed
   * when written (at 50/s a 64 KiB pipe alone would be seconds of stale signatures).
   */
  constructor(
    private readonly baseUrl: string,
    options: Omit<ScenarioOptions, 'hmac'>,
    private readonly out: Writable,
    private readonly rate = Infinity,
    private readonly leadSeconds = 0.5,
    /** Requests vegeta may have in flight (its -max-workers). */
    private readonly maxInFlight = 0,
  ) {
    this.scenario = new Scenario({ ...options, hmac: nodeHmac });
  }

  start(): void {
    this.startedAt = Date.now();
    this.out.on('drain', () => this.pump());
    this.out.on('error', () => this.stop());
    if (Number.isFinite(this.rate)) this.timer = setInterval(() => this.pump(), 10);
    this.pump();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }

  /**
   * How many more targets may be written: never ahead of the schedule (rate x elapsed + lead),
   * and never more than in flight + `leadSeconds` of the throughput vegeta really achieves, so
   * a gateway slower than the rate does not leave signatures ageing in the pipe.
   */
  private allowance(): number {
    if (!Number.isFinite(this.rate)) return Infinity;
    const now = Date.now();
    const bySchedule =
      (this.rate * (now - this.startedAt)) / 1000 + Math.max(16, this.rate * this.leadSeconds);
    this.recent.push({ at: now, answered: this.answered });
    while (this.recent.length > 2 && this.recent[0].at < now - 2000) this.recent.shift();
    const first = this.recent[0];
    const achieved =
      now - first.at >= 500 ? ((this.answered - first.answered) * 1000) / (now - first.at) : this.rate;
    const byConsumption = this.answered + this.maxInFlight + Math.max(64, achieved * this.leadSeconds);
    return Math.floor(Math.min(bySchedule, byConsumption)) - this.generated;
  }

  private pump(): void {
    // Paced by rate: up to `leadSeconds` of targets wait in our write buffer (the OS pipe alone
    // holds ~30 ms at 5,000/s, less than a scheduling hiccup of this process on a busy box).
    // Unpaced (standalone), the pipe's back-pressure paces.
    const paced = Number.isFinite(this.rate);
    while (!this.stopped && (paced ? this.allowance() >= 16 : !this.out.writableNeedDrain)) {
      let chunk = '';
      const now = Date.now();
      for (let i = 0; i < 16; i++) {
        const p = this.scenario.next(now);
        this.generated++;
        if (p.track && p.correlationId) this.inFlight.set(p.correlationId, p);
        chunk += vegetaTarget(this.baseUrl, p);
      }
      if (!this.out.write(chunk) && !paced) break;
    }
  }

  /**
   * Feeds one vegeta result back: a placement is found by the clientOrderId its 202 body echoes,
   * a cancel or amend by the order id in its URL. Returns the planned request, if tracked.
   */
  onResult(method: string, url: string, status: number, body: string): PlannedRequest | undefined {
    let key: string | undefined;
    if (method === 'POST') {
      if (status !== 202) return undefined; // an untracked failure; a book order that failed simply is not remembered
      const m = /"clientOrderId":"([^"]+)"/.exec(body);
      key = m?.[1];
    } else {
      key = url.slice(url.lastIndexOf('/') + 1);
    }
    if (!key) return undefined;
    const p = this.inFlight.get(key);
    if (!p) return undefined;
    this.inFlight.delete(key);
    if (status >= 200 && status < 300) this.scenario.acknowledged(p, body, Date.now());
    else this.scenario.failed(p, status);
    return p;
  }

  /** Targets vegeta read but never answered (attack ended first) are dropped from tracking. */
  get pendingFeedback(): number {
    return this.inFlight.size;
  }
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (require.main === module) {
  const accountsFile = arg('accounts');
  if (!accountsFile) {
    process.stderr.write(
      'usage: vegeta-targets.ts --accounts <file.json: [{accountId,keyId,secret}]> [--symbols A,B] [--base-url URL] [--seed N]\n',
    );
    process.exit(2);
  }
  const accounts = JSON.parse(readFileSync(accountsFile, 'utf8')) as LoadAccount[];
  const feeder = new TargetFeeder(
    arg('base-url') ?? 'http://127.0.0.1:8080',
    {
      accounts,
      symbols: (arg('symbols') ?? 'BTC-USDT,ETH-USDT').split(','),
      runTag: arg('run-id') ?? `vt${Date.now().toString(36)}`,
      seed: Number(arg('seed') ?? 1),
    },
    process.stdout,
  );
  process.stdout.on('error', () => process.exit(0)); // vegeta closed the pipe: done
  feeder.start();
}
