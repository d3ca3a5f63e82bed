import type { DataSource } from 'typeorm';

/**
 * The reads a hot standby may answer: history, never what a client has just written (an order
 * just placed, open orders, one order, balances stay on the primary).
 */
export const HISTORY_READ_KINDS = ['candles', 'trades', 'orders', 'fills', 'ledger'] as const;
export type HistoryReadKind = (typeof HISTORY_READ_KINDS)[number];
export type ReadServer = 'replica' | 'primary';

export interface HistoryReadMetrics {
  /** After each probe: the replica's lag, or null when it did not answer as a standby. */
  lag(lag: { seconds: number; bytes: number } | null): void;
  /** One history read answered by `server`. */
  read(kind: HistoryReadKind, server: ReadServer): void;
}

export interface HistoryReadRouterOptions {
  /** Past this lag (or with the replica down) history reads go to the primary. */
  maxLagMs: number;
  probeIntervalMs?: number;
  probeTimeoutMs?: number;
  metrics?: HistoryReadMetrics;
  /** Called when reads switch server, with the reason (for the log). */
  onSwitch?: (server: ReadServer, why: string) => void;
  now?: () => number;
}

/** A WAL position ("16/B374D848") as a byte offset. */
export function parseLsn(lsn: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(lsn);
  if (!m) throw new Error(`not a WAL position: ${lsn}`);
  return (BigInt(`0x${m[1]}`) << 32n) + BigInt(`0x${m[2]}`);
}

/**
 * Replica lag in time from WAL positions alone: the primary's position is sampled at each probe;
 * the lag is how long ago the oldest sample the replica has not replayed yet was taken (0 when it
 * has replayed everything sampled). Unlike now() - pg_last_xact_replay_timestamp() it does not
 * grow on an idle primary, and it needs no clock shared by the two servers. Resolution: one probe.
 */
export class WalLagClock {
  private samples: { at: number; lsn: bigint }[] = [];

  constructor(private readonly maxSamples = 3600) {}

  /** Records the primary's position `lsn` at `at` (ms); returns the lag (ms) of `replayed`. */
  observe(at: number, lsn: bigint, replayed: bigint): number {
    const last = this.samples[this.samples.length - 1];
    if (!last || lsn > last.lsn) this.samples.push({ at, lsn });
    // What the replica has replayed is behind it for good.
    while (this.samples.length > 1 && this.samples[0].lsn <= replayed) this.samples.shift();
    if (this.samples.length > this.maxSamples) this.samples.splice(0, this.samples.length - this.maxSamples);
    const oldest = this.samples[0];
    return oldest.lsn <= replayed ? 0 : at - oldest.at;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  // Given up on, it may still fail later: that must not be an unhandled rejection.
  p.catch(() => undefined);
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Sends history reads to the replica while it answers as a standby within `maxLagMs` of the
 * primary, else to the primary. The lag is probed every `probeIntervalMs` (1 s): the primary's
 * pg_current_wal_lsn() against the replica's pg_last_wal_replay_lsn(). A replica read that fails
 * is answered by the primary, and the replica is left out until the next good probe. Without a
 * replica every read goes to the primary.
 */
export class HistoryReadRouter {
  private timer: NodeJS.Timeout | undefined;
  private probing: Promise<void> | undefined;
  private connecting: Promise<unknown> | undefined;
  private useReplica = false;
  private readonly clock = new WalLagClock();
  private readonly now: () => number;
  /** The last lag measured (ms), null when the replica did not answer. */
  lagMs: number | null = null;

  constructor(
    readonly primary: DataSource,
    readonly replica: DataSource | null,
    private readonly options: HistoryReadRouterOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Which server a history read goes to now. */
  get server(): ReadServer {
    return this.replica && this.useReplica ? 'replica' : 'primary';
  }

  /** Probes now and then every probeIntervalMs (no-op without a replica). */
  start(): void {
    if (!this.replica || this.timer) return;
    void this.probe();
    this.timer = setInterval(() => void this.probe(), this.options.probeIntervalMs ?? 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.probing;
    await this.connecting?.catch(() => undefined);
    if (this.replica?.isInitialized) await this.replica.destroy();
  }

  /** One lag measurement; decides where the next reads go. */
  probe(): Promise<void> {
    this.probing ??= this.measure().finally(() => (this.probing = undefined));
    return this.probing;
  }

  private async measure(): Promise<void> {
    const replica = this.replica;
    if (!replica) return;
    const timeout = this.options.probeTimeoutMs ?? 1000;
    try {
      if (!replica.isInitialized) {
        // One attempt at a time: a slow one is waited for again by the next probe.
        this.connecting ??= replica.initialize().finally(() => (this.connecting = undefined));
        await withTimeout(this.connecting, timeout * 3, 'replica connect');
      }
      const [p, r] = await Promise.all([
        withTimeout(
          this.primary.query(`SELECT pg_current_wal_lsn()::text AS lsn`) as Promise<{ lsn: string }[]>,
          timeout,
          'primary',
        ),
        withTimeout(
          replica.query(
            `SELECT pg_is_in_recovery() AS standby, pg_last_wal_replay_lsn()::text AS lsn`,
          ) as Promise<{ standby: boolean; lsn: string | null }[]>,
          timeout,
          'replica',
        ),
      ]);
      // A promoted replica has left the primary's history: not ours to read from.
      if (!r[0]?.standby || !r[0].lsn) throw new Error('the replica is not a standby');
      const primaryLsn = parseLsn(p[0].lsn);
      const replayed = parseLsn(r[0].lsn);
      this.lagMs = this.clock.observe(this.now(), primaryLsn, replayed);
      const bytes = primaryLsn > replayed ? Number(primaryLsn - replayed) : 0;
      this.options.metrics?.lag({ seconds: this.lagMs / 1000, bytes });
      if (this.lagMs > this.options.maxLagMs) {
        this.switchTo('primary', `replica lag ${this.lagMs} ms > ${this.options.maxLagMs} ms`);
      } else {
        this.switchTo('replica', `replica lag ${this.lagMs} ms`);
      }
    } catch (err) {
      this.lagMs = null;
      this.options.metrics?.lag(null);
      this.switchTo('primary', `replica unavailable: ${(err as Error).message}`);
    }
  }

  private switchTo(server: ReadServer, why: string): void {
    const replica = server === 'replica';
    if (replica === this.useReplica) return;
    this.useReplica = replica;
    this.options.onSwitch?.(server, why);
  }

  /**
   * Runs a history read on the server of the moment; a replica that fails it hands it to the
   * primary (a standby can also cancel a query that conflicts with recovery).
   */
  async read<T>(kind: HistoryReadKind, fn: (db: DataSource) => Promise<T>): Promise<T> {
    if (this.replica && this.useReplica) {
      try {
        const answer = await fn(this.replica);
        this.options.metrics?.read(kind, 'replica');
        return answer;
      } catch (err) {
        // A request the repository refuses (a cursor it did not issue) is no replica failure.
        if (err instanceof RangeError) throw err;
        this.switchTo('primary', `replica read failed: ${(err as Error).message}`);
      }
    }
    const answer = await fn(this.primary);
    this.options.metrics?.read(kind, 'primary');
    return answer;
  }
}
