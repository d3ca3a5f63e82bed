// The ONE definition of the load scenario: markets, order mix, prices and quantities (decimal
// strings), accounts and request signing. Both drivers use it: the k6 scripts (loadtest/k6) and
// the vegeta target generator (loadtest/src/vegeta-targets.ts).
//
// Plain TypeScript on purpose: no k6 import, no Node import (tsconfig.k6.json typechecks it
// without @types/node). Crypto is injected: k6 passes `hmac('sha256', …, 'hex')` from k6/crypto,
// Node passes `createHmac('sha256', …)`.

/** hex(HMAC-SHA256(secret, message)), supplied by the driver. */
export type HmacHex = (secret: string, message: string) => string;

/** An account the load runs as: its id and one API key. */
export interface LoadAccount {
  accountId: string;
  keyId: string;
  secret: string;
}

/**
 * The accounts file (ACCOUNTS_FILE of the k6 scripts), as `npm run load:accounts` and
 * `npm run load -- --setup-only` write it: a JSON array of {accountId, keyId, secret}.
 */
export function formatAccountsFile(accounts: readonly LoadAccount[]): string {
  return `${JSON.stringify(
    accounts.map(({ accountId, keyId, secret }) => ({ accountId, keyId, secret })),
    null,
    2,
  )}\n`;
}

/**
 * Reads an accounts file: that array, or an object whose `apiKeys` is one (seed.main's
 * demo-keys.json). Throws, naming `source`, on anything else or on an empty list.
 */
export function parseAccountsFile(text: string, source: string): LoadAccount[] {
  const parsed = JSON.parse(text) as unknown;
  const list =
    Array.isArray(parsed) || parsed === null || typeof parsed !== 'object'
      ? parsed
      : (parsed as { apiKeys?: unknown }).apiKeys;
  if (!Array.isArray(list)) throw new Error(`${source}: not a JSON array of {accountId, keyId, secret}`);
  const accounts = list.map((entry: unknown, i): LoadAccount => {
    const e = (entry ?? {}) as Record<string, unknown>;
    for (const field of ['accountId', 'keyId', 'secret'])
      if (typeof e[field] !== 'string' || e[field] === '')
        throw new Error(`${source}: entry ${i} has no ${field} (want {accountId, keyId, secret})`);
    return { accountId: e.accountId as string, keyId: e.keyId as string, secret: e.secret as string };
  });
  if (accounts.length === 0) throw new Error(`${source} lists no accounts`);
  return accounts;
}

/** The markets the scenario trades, as seeded (tick 0.01; lot 0.0001 BTC / 0.001 ETH). */
export interface MarketDef {
  symbol: string;
  baseAsset: string;
  quoteAsset: string;
  priceDecimals: number;
  qtyDecimals: number;
  /** Reference price in ticks; the book forms around it. */
  midTicks: number;
}

export const MARKETS: Readonly<Record<string, MarketDef>> = {
  'BTC-USDT': {
    symbol: 'BTC-USDT',
    baseAsset: 'BTC',
    quoteAsset: 'USDT',
    priceDecimals: 2,
    qtyDecimals: 4,
    midTicks: 3_000_000,
  },
  'ETH-USDT': {
    symbol: 'ETH-USDT',
    baseAsset: 'ETH',
    quoteAsset: 'USDT',
    priceDecimals: 2,
    qtyDecimals: 3,
    midTicks: 200_000,
  },
};

/** Asset decimals (smallest units) as seeded: BTC/ETH 8, USDT 6. */
export const ASSET_DECIMALS: Readonly<Record<string, number>> = { BTC: 8, ETH: 8, USDT: 6 };

/**
 * What every load account is funded with (whole units). Generous: at 5,000 orders/s for 60 s
 * over 100 accounts an account rests about 1,500 orders, holding well under a tenth of this.
 */
export const DEPOSIT_UNITS: Readonly<Record<string, number>> = { BTC: 100, ETH: 2_000, USDT: 10_000_000 };

/** Deposit amount in the asset's smallest units (integer), as the deposit command carries it. */
export function depositAmount(asset: string): number {
  return DEPOSIT_UNITS[asset] * 10 ** ASSET_DECIMALS[asset];
}

/**
 * The order mix (fractions, summing to 1):
 * - `touch`: GTC limit 1..3 ticks behind the mid: the liquidity crosses take;
 * - `book`: GTC limit 4..20 ticks behind (a tenth post-only): what cancels and amends work on;
 * - `cross`: IOC limit 3 ticks through the mid: takes the touch, the rest expires;
 * - `cancel`: DELETE of an own book order acknowledged at least `minAgeMs` ago;
 * - `amend`: PATCH of such an order to another price in the book band.
 * Crosses never reach the book band, so cancels and amends find their order open.
 */
export interface OrderMix {
  touch: number;
  book: number;
  cross: number;
  cancel: number;
  amend: number;
}

export const DEFAULT_MIX: Readonly<OrderMix> = {
  touch: 0.2,
  book: 0.25,
  cross: 0.2,
  cancel: 0.25,
  amend: 0.1,
};

export type ActionKind = keyof OrderMix;
export type HttpMethod = 'GET' | 'POST' | 'DELETE' | 'PATCH';

/** Signing headers (names as the gateway documents them). */
export const HEADER_API_KEY = 'X-API-KEY';
export const HEADER_TIMESTAMP = 'X-API-TIMESTAMP';
export const HEADER_SIGNATURE = 'X-API-SIGNATURE';

/**
 * The string a request signature covers; the same as `canonicalRequest` of
 * libs/contracts/src/signing.ts (restated: this project imports no other; scripts/load.spec.ts
 * checks that they agree).
 */
export function canonicalRequest(
  timestamp: string | number,
  method: string,
  pathWithQuery: string,
  body: string,
): string {
  return `${String(timestamp)}${method.toUpperCase()}${pathWithQuery}${body}`;
}

/** A request, ready for either driver: path (base URL added by the driver), body, headers. */
export interface RequestSpec {
  method: HttpMethod;
  path: string;
  body: string;
  headers: Record<string, string>;
  /** Metric tag / report name: place-touch, place-book, cross, cancel, amend, depth, … */
  name: string;
}

/** Signs a request for an account at `nowMs` (the gateway accepts ±5 s). */
export function signedRequest(
  hmac: HmacHex,
  account: LoadAccount,
  method: HttpMethod,
  path: string,
  body: string,
  nowMs: number,
  name: string,
  extraHeaders: Record<string, string> = {},
): RequestSpec {
  const ts = String(nowMs);
  const headers: Record<string, string> = {
    ...extraHeaders,
    [HEADER_API_KEY]: account.keyId,
    [HEADER_TIMESTAMP]: ts,
    [HEADER_SIGNATURE]: hmac(account.secret, canonicalRequest(ts, method, path, body)),
  };
  if (body !== '') headers['Content-Type'] = 'application/json';
  return { method, path, body, headers, name };
}

/** The `auth` message of the WebSocket stream: signs GET /v1/stream with an empty body. */
export function streamAuthMessage(hmac: HmacHex, account: LoadAccount, nowMs: number): string {
  const ts = String(nowMs);
  return JSON.stringify({
    op: 'auth',
    apiKey: account.keyId,
    timestamp: ts,
    signature: hmac(account.secret, canonicalRequest(ts, 'GET', '/v1/stream', '')),
  });
}

/** Integer steps to a decimal string with exactly `decimals` fraction digits (no floats). */
export function formatSteps(steps: number, decimals: number): string {
  const digits = String(Math.trunc(steps)).padStart(decimals + 1, '0');
  if (decimals === 0) return digits;
  return `${digits.slice(0, digits.length - decimals)}.${digits.slice(digits.length - decimals)}`;
}

/** Small, fast, seedable PRNG (mulberry32), so runs are reproducible per seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An own open order that a cancel or amend may target. */
export interface OpenOrder {
  orderId: string;
  account: number;
  symbol: string;
  side: 'buy' | 'sell';
  priceTicks: number;
  ackedAt: number;
}

/** What the scenario decided; `track` is set when the driver must report the response back. */
export interface PlannedRequest {
  kind: ActionKind;
  request: RequestSpec;
  /**
   * What ties a result back to this plan when the driver sees only the response: the
   * clientOrderId of a book placement (echoed in the 202 body), or the order id of a cancel or
   * amend (in its URL). Empty for untracked placements.
   */
  correlationId: string;
  /** A book order to remember once acknowledged, or the open order a cancel/amend targets. */
  track?: { account: number; symbol: string; side: 'buy' | 'sell'; priceTicks: number; target?: OpenOrder };
}

export interface ScenarioOptions {
  accounts: LoadAccount[];
  symbols: string[];
  hmac: HmacHex;
  /** Prefix of clientOrderIds (the run id, or run id + VU): [A-Za-z0-9_.:-], at most 40 chars. */
  runTag: string;
  seed?: number;
  mix?: OrderMix;
  /** Cancels and amends only target orders acknowledged at least this long ago. */
  minAgeMs?: number;
  /** Bound on remembered open orders (oldest dropped first). */
  maxOpen?: number;
}

const ORDERS_PATH = '/v1/orders';

/**
 * The order flow. `next(now)` plans one signed request; the driver sends it and reports the
 * outcome with `acknowledged` (2xx body) or `failed`. Cancels and amends need acknowledged book
 * orders; until there are old enough ones they become book placements.
 */
export class Scenario {
  readonly accounts: LoadAccount[];
  readonly symbols: string[];
  private readonly random: () => number;
  private readonly mix: OrderMix;
  private readonly minAgeMs: number;
  private readonly maxOpen: number;
  private young: OpenOrder[] = [];
  private youngHead = 0;
  private readonly ready: OpenOrder[] = [];
  private seq = 0;

  constructor(private readonly opts: ScenarioOptions) {
    if (opts.accounts.length === 0) throw new Error('scenario needs at least one account');
    for (const s of opts.symbols)
      if (!MARKETS[s]) throw new Error(`unknown symbol ${s} (known: ${Object.keys(MARKETS).join(', ')})`);
    this.accounts = opts.accounts;
    this.symbols = opts.symbols;
    this.random = rng(opts.seed ?? 1);
    this.mix = opts.mix ?? DEFAULT_MIX;
    this.minAgeMs = opts.minAgeMs ?? 1000;
    this.maxOpen = opts.maxOpen ?? 50_000;
  }

  /** Open orders remembered (for tests and progress). */
  get openCount(): number {
    return this.young.length - this.youngHead + this.ready.length;
  }

  private int(lo: number, hi: number): number {
    return lo + Math.floor(this.random() * (hi - lo + 1));
  }

  private pickKind(): ActionKind {
    let r = this.random();
    for (const k of ['touch', 'book', 'cross', 'cancel', 'amend'] as const) {
      r -= this.mix[k];
      if (r < 0) return k;
    }
    return 'book';
  }

  next(nowMs: number): PlannedRequest {
    let kind = this.pickKind();
    if (kind === 'cancel' || kind === 'amend') {
      const target = this.takeOpen(nowMs);
      if (target) return kind === 'cancel' ? this.cancel(target, nowMs) : this.amend(target, nowMs);
      kind = 'book';
    }
    const account = this.int(0, this.accounts.length - 1);
    const symbol = this.symbols[this.int(0, this.symbols.length - 1)];
    const m = MARKETS[symbol];
    const side = this.random() < 0.5 ? 'buy' : 'sell';
    const dir = side === 'buy' ? -1 : 1; // passive: buys below the mid, sells above
    let priceTicks: number;
    let lots: number;
    const body: Record<string, unknown> = { symbol, side, type: 'limit' };
    if (kind === 'touch') {
      priceTicks = m.midTicks + dir * this.int(1, 3);
      lots = this.int(1, 10);
    } else if (kind === 'book') {
      priceTicks = m.midTicks + dir * this.int(4, 20);
      lots = this.int(1, 10);
      if (this.random() < 0.1) body.postOnly = true;
    } else {
      priceTicks = m.midTicks - dir * 3; // through the mid: takes the touch on the other side
      lots = this.int(1, 20);
      body.timeInForce = 'IOC';
    }
    body.price = formatSteps(priceTicks, m.priceDecimals);
    body.quantity = formatSteps(lots, m.qtyDecimals);
    // Every placement carries a unique clientOrderId, as real clients do: two identical signed
    // requests in the same millisecond would otherwise be refused as a replay.
    const clientOrderId = this.clientOrderId();
    body.clientOrderId = clientOrderId;
    const correlationId = kind === 'book' ? clientOrderId : '';
    const request = signedRequest(
      this.opts.hmac,
      this.accounts[account],
      'POST',
      ORDERS_PATH,
      JSON.stringify(body),
      nowMs,
      kind === 'cross' ? 'cross' : `place-${kind}`,
    );
    return {
      kind,
      request,
      correlationId,
      track: kind === 'book' ? { account, symbol, side, priceTicks } : undefined,
    };
  }

  private cancel(target: OpenOrder, nowMs: number): PlannedRequest {
    const request = signedRequest(
      this.opts.hmac,
      this.accounts[target.account],
      'DELETE',
      `${ORDERS_PATH}/${target.orderId}`,
      '',
      nowMs,
      'cancel',
    );
    return { kind: 'cancel', request, correlationId: target.orderId, track: { ...target, target } };
  }

  private amend(target: OpenOrder, nowMs: number): PlannedRequest {
    const m = MARKETS[target.symbol];
    const dir = target.side === 'buy' ? -1 : 1;
    let priceTicks = m.midTicks + dir * this.int(4, 20);
    if (priceTicks === target.priceTicks) priceTicks += dir;
    const body = JSON.stringify({ price: formatSteps(priceTicks, m.priceDecimals) });
    const request = signedRequest(
      this.opts.hmac,
      this.accounts[target.account],
      'PATCH',
      `${ORDERS_PATH}/${target.orderId}`,
      body,
      nowMs,
      'amend',
    );
    return {
      kind: 'amend',
      request,
      correlationId: target.orderId,
      track: { account: target.account, symbol: target.symbol, side: target.side, priceTicks, target },
    };
  }

  /** Report a 2xx response: remembers book orders, keeps amended ones open. */
  acknowledged(planned: PlannedRequest, responseBody: string, nowMs: number): string | undefined {
    let orderId: string | undefined;
    try {
      const parsed = JSON.parse(responseBody) as { orderId?: unknown };
      if (typeof parsed.orderId === 'string') orderId = parsed.orderId;
    } catch {
      return undefined;
    }
    const t = planned.track;
    if (!t || !orderId) return orderId;
    if (planned.kind === 'book')
      this.remember({
        orderId,
        account: t.account,
        symbol: t.symbol,
        side: t.side,
        priceTicks: t.priceTicks,
        ackedAt: nowMs,
      });
    else if (planned.kind === 'amend' && t.target)
      this.remember({ ...t.target, priceTicks: t.priceTicks, ackedAt: nowMs });
    return orderId;
  }

  /** Report a failed cancel/amend: an amend's order stays open unless the gateway said otherwise. */
  failed(planned: PlannedRequest, status: number): void {
    const t = planned.track?.target;
    if (planned.kind === 'amend' && t && status !== 404 && status !== 409) this.remember(t);
  }

  private remember(o: OpenOrder): void {
    // Past the bound, forget a random ready order (it simply rests until the run's cleanup).
    if (this.openCount >= this.maxOpen && this.ready.length > 0) this.ready.pop();
    this.young.push(o);
  }

  /** Removes and returns a random old-enough open order (amends put it back when acknowledged). */
  private takeOpen(nowMs: number): OpenOrder | undefined {
    const cutoff = nowMs - this.minAgeMs;
    // Young orders wait in acknowledgement order; the old-enough ones move to `ready`.
    while (this.youngHead < this.young.length && this.young[this.youngHead].ackedAt <= cutoff) {
      this.ready.push(this.young[this.youngHead++]);
    }
    if (this.youngHead > 4096 && this.youngHead * 2 > this.young.length) {
      this.young = this.young.slice(this.youngHead);
      this.youngHead = 0;
    }
    if (this.ready.length === 0) return undefined;
    const i = this.int(0, this.ready.length - 1);
    const o = this.ready[i];
    this.ready[i] = this.ready[this.ready.length - 1];
    this.ready.pop();
    return o;
  }

  private clientOrderId(): string {
    this.seq += 1;
    return `${this.opts.runTag}-${this.seq.toString(36)}`;
  }

  /** An unsigned public market-data read (depth, ticker, trades) of a random symbol. */
  marketDataRead(): RequestSpec {
    const symbol = this.symbols[this.int(0, this.symbols.length - 1)];
    const r = this.random();
    if (r < 0.5)
      return {
        method: 'GET',
        path: `/v1/markets/${symbol}/depth?levels=20`,
        body: '',
        headers: {},
        name: 'depth',
      };
    if (r < 0.8)
      return { method: 'GET', path: `/v1/markets/${symbol}/ticker`, body: '', headers: {}, name: 'ticker' };
    return {
      method: 'GET',
      path: `/v1/markets/${symbol}/trades?limit=50`,
      body: '',
      headers: {},
      name: 'trades',
    };
  }

  /** Public channels a WebSocket subscriber follows. */
  streamChannels(): string[] {
    return this.symbols.flatMap((s) => [`depth:${s}`, `trades:${s}`, `ticker:${s}`]);
  }
}

/** Parses "60s", "2m", "500ms", "1m30s" into seconds. */
export function parseDurationSeconds(text: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let total = 0;
  let matched = '';
  for (let m = re.exec(text); m; m = re.exec(text)) {
    matched += m[0];
    total += Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  }
  if (matched !== text || total <= 0)
    throw new Error(`bad duration ${JSON.stringify(text)} (like 60s, 2m, 1m30s)`);
  return total;
}

/** Account ids of a run: `lt-<runId>-<n>`; the prefix finds all of a run's rows. */
export function runAccountId(runId: string, i: number): string {
  return `lt-${runId}-${String(i).padStart(4, '0')}`;
}
