import { ExchangeClient, type Credentials } from '../testing/exchange-client';

// The steady load of a chaos run: signed placements (and some cancels) through the real gateway
// at a fixed rate. A request that fails with 5xx, 429, a timeout or a refused connection is sent
// again with the same clientOrderId until it is answered; an order counts as acknowledged once,
// on its 202. Nothing here knows which fault is in progress.

export interface LoadAccount extends Credentials {
  accountId: string;
}

export interface LoadMarket {
  symbol: string;
  /** Reference price in ticks (tick 0.01). */
  midTicks: number;
}

export interface LoadOptions {
  /**
   * Every order type in the mix (issue 22): besides limit GTC and IOC, FOK, post-only, icebergs,
   * stop-limit and stop-market, market orders with a protection price or (buys) a quote budget,
   * and every STP mode. Off by default: the Swarm fault tests and `npm run chaos` keep their
   * limit/IOC flow unless asked (`npm run chaos -- --order-types`).
   */
  orderTypes?: boolean;
  /**
   * At most this many requests unanswered (retries included) before new ones are held back
   * (default: four seconds of the rate, at least 1,000). Unbounded, a 500/s client facing a 20-s
   * outage holds 10,000 retrying requests and spends its own CPU and heap on them (its signatures
   * then go stale while queued).
   */
  maxInFlight?: number;
}

const STP_MODES = ['none', 'cancel-taker', 'cancel-maker', 'cancel-both'] as const;

export interface AckedOrder {
  orderId: string;
  clientOrderId: string;
  accountId: string;
  symbol: string;
  /** First attempt, and the 202. */
  sentAt: number;
  ackedAt: number;
}

/** One failed attempt (retried): when it was answered or failed, and why. */
export interface FailedAttempt {
  at: number;
  cause: string;
}

export interface LoadStats {
  /** Distinct placements started (each with its own clientOrderId). */
  placements: number;
  /** Placements answered 202. */
  acknowledged: number;
  /** Placements refused with a 4xx other than 429 (not retried, not acknowledged). */
  refused: number;
  /** Refusals by status and error code. */
  refusedBy: Record<string, number>;
  /** Placements still unanswered when the run gave up on them. */
  abandoned: number;
  /** Attempts after the first (503, 5xx, 429, timeouts, connection errors). */
  retries: number;
  /** Cancels answered 202, and refused as no longer open (404/409). */
  cancelsAcknowledged: number;
  cancelsRefused: number;
  /** The same clientOrderId acknowledged with two different order ids (must stay 0). */
  conflictingAcks: number;
  /** 503 answers without a positive Retry-After (must stay 0). */
  unavailableWithoutRetryAfter: number;
  /**
   * Requests not sent because `maxInFlight` were still unanswered: the client holds back during an
   * outage, as a trading bot does, instead of piling up retries it cannot serve itself.
   */
  heldBack: number;
  /** Failed attempts by cause (status code or error name). */
  failures: Record<string, number>;
}

const REQUEST_TIMEOUT_MS = 10_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function formatTicks(ticks: number): string {
  const s = String(ticks).padStart(3, '0');
  return `${s.slice(0, -2)}.${s.slice(-2)}`;
}

function formatLots(lots: number): string {
  const s = String(lots).padStart(4, '0');
  return `${s.slice(0, -3)}.${s.slice(-3)}`;
}

/** Ticks x lots (tick 0.01, lot 0.001) as a quote amount. */
function formatTickLots(tickLots: number): string {
  const s = String(tickLots).padStart(6, '0');
  return `${s.slice(0, -5)}.${s.slice(-5)}`;
}

/** Worth sending again: an outage, shedding, or a request that waited past the signature window. */
function retryable(status: number, body: Record<string, unknown>): boolean {
  const code = (body.error as { code?: string } | undefined)?.code;
  return status >= 500 || status === 429 || code === 'STALE_TIMESTAMP';
}

export class ChaosLoad {
  readonly acked = new Map<string, AckedOrder>();
  /** Every failed attempt in order, for timelines around a fault (stats.failures counts them). */
  readonly failedAttempts: FailedAttempt[] = [];
  readonly stats: LoadStats = {
    placements: 0,
    acknowledged: 0,
    refused: 0,
    refusedBy: {},
    abandoned: 0,
    retries: 0,
    cancelsAcknowledged: 0,
    cancelsRefused: 0,
    conflictingAcks: 0,
    unavailableWithoutRetryAfter: 0,
    heldBack: 0,
    failures: {},
  };
  private readonly api: ExchangeClient;
  private readonly open: AckedOrder[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private ticker: NodeJS.Timeout | null = null;
  private started = 0;
  private issued = 0;
  private seq = 0;
  /** After this time, unanswered requests stop retrying. */
  private giveUpAt = Number.POSITIVE_INFINITY;

  constructor(
    baseUrl: string,
    private readonly accounts: LoadAccount[],
    private readonly markets: LoadMarket[],
    private readonly rate: number,
    private readonly runTag: string,
    private readonly options: LoadOptions = {},
  ) {
    this.api = new ExchangeClient(baseUrl);
  }

  start(): void {
    this.started = Date.now();
    this.ticker = setInterval(() => {
      const due = Math.floor(((Date.now() - this.started) / 1000) * this.rate);
      const maxInFlight = this.options.maxInFlight ?? Math.max(1000, 4 * this.rate);
      for (; this.issued < due; this.issued++)
        if (this.inFlight.size >= maxInFlight) this.stats.heldBack++;
        else this.track(this.next());
    }, 50);
  }

  /** Stops issuing; waits for every request in flight to be answered or for `graceMs` to pass. */
  async stop(graceMs: number): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    this.giveUpAt = Date.now() + graceMs;
    while (this.inFlight.size > 0) await Promise.race([...this.inFlight]);
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private random(n: number): number {
    return Math.floor(Math.random() * n);
  }

  private next(): Promise<void> {
    // One in eight requests cancels an own order acknowledged a second ago or more.
    if (this.random(8) === 0 && this.open.length > 0 && this.open[0].ackedAt < Date.now() - 1000) {
      const target = this.open.splice(this.random(Math.min(this.open.length, 50)), 1)[0];
      if (target.ackedAt < Date.now() - 1000) return this.cancel(target);
      this.open.push(target);
    }
    return this.place();
  }

  private async place(): Promise<void> {
    const market = this.markets[this.random(this.markets.length)];
    const account = this.accounts[this.random(this.accounts.length)];
    const side = this.random(2) === 0 ? 'buy' : 'sell';
    const clientOrderId = `${this.runTag}-${(++this.seq).toString(36)}`;
    const { order, rests } = this.options.orderTypes
      ? this.anyOrder(market, side)
      : this.limitOrder(market, side);
    const body = { symbol: market.symbol, side, ...order, clientOrderId };
    this.stats.placements++;
    const sentAt = Date.now();
    const res = await this.send(account, 'POST', '/v1/orders', body);
    if (!res) {
      this.stats.abandoned++;
      return;
    }
    if (res.status !== 202) {
      this.stats.refused++;
      const why = `${res.status} ${(res.body.error as { code?: string } | undefined)?.code ?? ''}`.trim();
      this.stats.refusedBy[why] = (this.stats.refusedBy[why] ?? 0) + 1;
      return;
    }
    const orderId = String(res.body.orderId);
    const prior = this.acked.get(clientOrderId);
    if (prior) {
      if (prior.orderId !== orderId) this.stats.conflictingAcks++;
      return;
    }
    const ack: AckedOrder = {
      orderId,
      clientOrderId,
      accountId: account.accountId,
      symbol: market.symbol,
      sentAt,
      ackedAt: Date.now(),
    };
    this.acked.set(clientOrderId, ack);
    this.stats.acknowledged++;
    if (rests) this.open.push(ack);
  }

  /** A limit order, GTC (mostly passive within a few ticks of the mid, a fifth through it) or IOC. */
  private limitOrder(
    market: LoadMarket,
    side: 'buy' | 'sell',
  ): { order: Record<string, unknown>; rests: boolean } {
    const dir = side === 'buy' ? -1 : 1;
    const ioc = this.random(6) === 0;
    // Mostly passive within a few ticks of the mid, a fifth priced through it: books form and trade.
    const offset = this.random(5) === 0 ? -this.random(4) - 1 : this.random(6);
    return {
      order: {
        type: 'limit',
        price: formatTicks(market.midTicks + dir * (ioc ? -3 : offset)),
        quantity: formatLots(1 + this.random(5)),
        ...(ioc ? { timeInForce: 'IOC' } : {}),
      },
      rests: !ioc,
    };
  }

  /**
   * Any order type (`orderTypes`): half the flow stays plain limit/IOC so books keep forming; the
   * rest is spread over FOK, post-only, icebergs, stops (a few ticks beyond the mid, so trades
   * trigger them), market orders bounded by a protection price or a quote budget; a quarter of
   * the orders that can take carry an STP mode.
   */
  private anyOrder(
    market: LoadMarket,
    side: 'buy' | 'sell',
  ): { order: Record<string, unknown>; rests: boolean } {
    const mid = market.midTicks;
    const passive = side === 'buy' ? -1 : 1;
    // Towards where a buy stop triggers (up) or a sell stop (down).
    const away = -passive;
    const lots = 1 + this.random(5);
    const quantity = formatLots(lots);
    const stp = this.random(4) === 0 ? { stpMode: STP_MODES[this.random(STP_MODES.length)] } : {};
    const price = (ticks: number) => formatTicks(ticks);
    switch (this.random(16)) {
      case 0:
        return {
          order: { type: 'limit', price: price(mid + away * 3), quantity, timeInForce: 'FOK', ...stp },
          rests: false,
        };
      case 1:
        return {
          order: { type: 'limit', price: price(mid + passive * this.random(6)), quantity, postOnly: true },
          rests: true,
        };
      case 2:
        return {
          order: {
            type: 'limit',
            price: price(mid + passive * this.random(6)),
            quantity: formatLots(4 + this.random(8)),
            displayQuantity: formatLots(1 + this.random(2)),
            ...stp,
          },
          rests: true,
        };
      case 3: {
        const stop = mid + away * (4 + this.random(4));
        return {
          order: {
            type: 'stop-limit',
            stopPrice: price(stop),
            price: price(stop + away * 2),
            quantity,
            ...stp,
          },
          rests: true,
        };
      }
      case 4: {
        const stop = mid + away * (4 + this.random(4));
        return {
          order: {
            type: 'stop-market',
            stopPrice: price(stop),
            protectionPrice: price(stop + away * 5),
            quantity,
            ...stp,
          },
          rests: true,
        };
      }
      case 5:
        return {
          order: { type: 'market', protectionPrice: price(mid + away * 3), quantity, ...stp },
          rests: false,
        };
      case 6:
        return side === 'buy'
          ? {
              order: {
                type: 'market',
                quoteBudget: formatTickLots(mid * lots),
                quantity: formatLots(lots * 2),
                ...stp,
              },
              rests: false,
            }
          : { order: { type: 'market', protectionPrice: price(mid - 5), quantity, ...stp }, rests: false };
      default: {
        const { order, rests } = this.limitOrder(market, side);
        return { order: { ...order, ...stp }, rests };
      }
    }
  }

  private async cancel(target: AckedOrder): Promise<void> {
    const account = this.accounts.find((a) => a.accountId === target.accountId)!;
    const res = await this.send(account, 'DELETE', `/v1/orders/${target.orderId}`);
    if (res?.status === 202) this.stats.cancelsAcknowledged++;
    else if (res) this.stats.cancelsRefused++;
  }

  /** Sends until answered with a non-retryable status; null when the run gave up first. */
  private async send(
    account: LoadAccount,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Record<string, unknown> } | null> {
    // The server's Retry-After (seconds) when it sent one: a client that retries sooner than
    // it is told adds load to an overloaded gateway exactly when it can least take it.
    let retryAfterMs = 0;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) {
        this.stats.retries++;
        // Exponential up to 3 s, jittered so that the requests of one outage do not return in step.
        const backoff = Math.min(3000, 100 * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random() / 2);
        await sleep(Math.max(retryAfterMs, backoff));
        retryAfterMs = 0;
      }
      if (Date.now() > this.giveUpAt) return null;
      let cause: string;
      try {
        const res = await this.api.signed(account, method, path, body, {
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        if (!retryable(res.status, res.body)) return res;
        const retryAfter = Number(res.headers.get('retry-after')) || 0;
        if (res.status === 503 && !(retryAfter > 0)) this.stats.unavailableWithoutRetryAfter++;
        retryAfterMs = Math.min(5_000, 1000 * retryAfter);
        cause = `${res.status} ${(res.body.error as { code?: string } | undefined)?.code ?? ''}`.trim();
      } catch (err) {
        const e = err as Error & { cause?: { code?: string } };
        cause = e.cause?.code ?? e.name;
      }
      this.stats.failures[cause] = (this.stats.failures[cause] ?? 0) + 1;
      this.failedAttempts.push({ at: Date.now(), cause });
    }
  }
}
