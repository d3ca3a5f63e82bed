import type Redis from 'ioredis';
import {
  depthSnapshotSchema,
  publicTradeSchema,
  redisKeys,
  tickerSchema,
  type MarketSpec,
  type PublicTrade,
  type StreamMessage,
} from '@trading/contracts';
import { inspectJson } from '../common/edge-input';
import type { StreamHub } from '../stream/stream-hub.service';
import { WS_OPEN, type WsClient } from '../stream/stream-message.schema';
import { type AccountEventDeps, AccountEventFeed } from './binance-account-events';
import { BinanceCode } from './binance.errors';
import {
  bookTickerEvent,
  depthDiff,
  depthUpdateEvent,
  EMPTY_BOOK,
  klineApply,
  klineEvent,
  miniTickerEvent,
  parseStreamName,
  partialDepth,
  tickerEvent,
  tradeEvent,
  type Book,
  type KlineState,
  type ParsedStream,
} from './binance-ws.streams';

// A client this far behind is cut off rather than buffered without bound.
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
// Updates held while a snapshot is being read; beyond that the feed resynchronises.
const MAX_PENDING = 10_000;
const MAX_PARAMS = 200;

export interface BinanceWsDeps {
  hub: StreamHub;
  redis: Redis;
  /** The market of a Binance symbol (BTCUSDT), if there is one. */
  market: (symbol: string) => MarketSpec | undefined;
  /** The candle of the bucket [start, start + ms) from the stored trades; null when it has none. */
  klineSeed: (market: MarketSpec, start: number, ms: number) => Promise<KlineState | null>;
  maxStreams: number;
  onSubscriptionCount: (delta: number) => void;
  now?: () => number;
  /** The listenKey streams (/ws/<listenKey>); without it a listenKey is never found. */
  userData?: UserDataDeps;
}

/** What a listenKey stream needs: its owner, its time left, and the account's events. */
export interface UserDataDeps {
  /** The account a live listenKey belongs to, or null. */
  owner: (listenKey: string) => Promise<{ accountId: string; keyId: string } | null>;
  /** Milliseconds the listenKey has left, 0 when it is gone (expired or closed). */
  remainingMs: (listenKey: string) => Promise<number>;
  events: AccountEventDeps;
  /** The longest a closed (DELETE) listenKey goes unnoticed; 30 s by default. */
  checkMs?: number;
}

/** A listenKey: 64 letters and digits (a stream name always has an '@'). */
export const LISTEN_KEY_NAME = /^[A-Za-z0-9]{64}$/;
const LISTEN_KEY_CHECK_MS = 30_000;

interface UserStream {
  listenKey: string;
  feed: AccountEventFeed;
  timer: ReturnType<typeof setTimeout> | null;
}

/** What a feed does with its channel's snapshot (first or after a gap) and its updates. */
interface FeedHandler {
  snapshot(data: unknown, resync: boolean): void | Promise<void>;
  update(data: unknown): void;
}

/**
 * One platform channel followed gap-free for one stream: registers with the hub first
 * (buffering), reads the snapshot, then applies only updates with a higher seq; a seq gap (a
 * Redis reconnect) reads the snapshot again and the handler carries on from it.
 */
class ChannelFeed {
  private live = false;
  private syncing = false;
  private stopped = false;
  private pending: StreamMessage[] = [];
  private lastSeq = 0;
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly deps: BinanceWsDeps,
    private readonly channel: string,
    private readonly handler: FeedHandler,
    /** The book at most this often (`@100ms`, `@1000ms`): each update is whole, a seq may skip. */
    private readonly everyMs?: number,
  ) {}

  /** Resolves once the first snapshot was handled (throws when Redis cannot be reached). */
  async start(): Promise<void> {
    const unsubscribe = await this.deps.hub.subscribe(
      redisKeys.pubsub(this.channel),
      (m) => this.onMessage(m),
      undefined,
      this.everyMs,
    );
    if (this.stopped) return unsubscribe();
    this.unsubscribe = unsubscribe;
    await this.sync(false);
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  private snapshotKey(): string {
    const [kind, symbol] = this.channel.split(':') as ['depth' | 'trades' | 'ticker', string];
    return redisKeys[kind](symbol);
  }

  private async sync(resync: boolean): Promise<void> {
    if (this.syncing) return;
    this.syncing = true;
    this.live = false;
    try {
      const raw = await this.deps.redis.get(this.snapshotKey());
      if (this.stopped) return;
      let seq = 0;
      let data: unknown = null;
      if (raw !== null) {
        const env = JSON.parse(raw) as { seq?: unknown; data?: unknown };
        if (typeof env.seq === 'number') seq = env.seq;
        data = env.data ?? null;
      }
      await this.handler.snapshot(data, resync);
      if (this.stopped) return;
      this.lastSeq = seq;
      this.live = true;
      for (const m of this.pending.splice(0)) this.apply(m);
    } finally {
      this.syncing = false;
    }
  }

  private onMessage(m: StreamMessage): void {
    if (this.stopped) return;
    if (!this.live) {
      if (this.pending.length < MAX_PENDING) this.pending.push(m);
      return;
    }
    this.apply(m);
  }

  private apply(m: StreamMessage): void {
    if (m.seq <= this.lastSeq) return;
    if (m.seq !== this.lastSeq + 1 && this.everyMs === undefined) {
      this.pending = [m];
      this.sync(true).catch(() => undefined);
      return;
    }
    this.lastSeq = m.seq;
    this.handler.update(m.data);
  }
}

type Emit = (event: unknown) => void;

const asBook = (data: unknown): { book: Book; engineSeq: number } | null => {
  const parsed = depthSnapshotSchema.safeParse(data);
  return parsed.success ? { book: parsed.data, engineSeq: parsed.data.engineSeq } : null;
};
const asTrades = (data: unknown): PublicTrade[] => {
  if (!Array.isArray(data)) return [];
  const out: PublicTrade[] = [];
  for (const item of data) {
    const t = publicTradeSchema.safeParse(item);
    if (t.success) out.push(t.data);
  }
  return out.sort((a, b) => a.seq - b.seq);
};

/** The handler of a stream: what it follows and how it turns the platform's messages into events. */
function feedFor(
  stream: ParsedStream,
  market: MarketSpec,
  deps: BinanceWsDeps,
  emit: Emit,
): { channel: string; handler: FeedHandler } {
  const now = deps.now ?? Date.now;
  const s = stream.symbol;
  const spec = stream.spec;
  switch (spec.kind) {
    case 'trade': {
      let last = 0;
      const send = (t: PublicTrade) => {
        if (t.seq <= last) return;
        last = t.seq;
        emit(tradeEvent(s, t, now()));
      };
      return {
        channel: `trades:${market.symbol}`,
        handler: {
          snapshot(data, resync) {
            const trades = asTrades(data);
            // First: only what comes next. After a gap: the recent trades it missed.
            if (!resync) last = trades.at(-1)?.seq ?? 0;
            else for (const t of trades) send(t);
          },
          update(data) {
            const t = publicTradeSchema.safeParse(data);
            if (t.success) send(t.data);
          },
        },
      };
    }
    case 'kline': {
      let state: KlineState | null = null;
      // Trades at or below this seq are counted already, or older than the stream.
      let floor = 0;
      const apply = (t: PublicTrade) => {
        if (t.seq <= floor) return;
        const r = klineApply(state, t, spec.ms, market);
        state = r.state;
        if (r.closed) emit(klineEvent(s, spec.interval, spec.ms, r.closed, true, market, now()));
        if (r.changed && state) emit(klineEvent(s, spec.interval, spec.ms, state, false, market, now()));
      };
      return {
        channel: `trades:${market.symbol}`,
        handler: {
          async snapshot(data, resync) {
            const trades = asTrades(data);
            if (resync) {
              for (const t of trades) apply(t);
              return;
            }
            // The current bucket's candle from the stored trades (each is stored before it is
            // published): a trade it holds comes again as an update and is skipped by its seq.
            const t = now();
            state = await deps.klineSeed(market, t - (t % spec.ms), spec.ms).catch(() => null);
            if (!state) floor = trades.at(-1)?.seq ?? 0;
          },
          update(data) {
            const t = publicTradeSchema.safeParse(data);
            if (t.success) apply(t.data);
          },
        },
      };
    }
    case 'depth': {
      let book: Book = EMPTY_BOOK;
      let lastId = 0;
      const next = (data: unknown) => {
        const b = asBook(data);
        if (!b || b.engineSeq <= lastId) return;
        const diff = depthDiff(book, b.book);
        book = b.book;
        // An event that changes nothing is not sent: the next one starts where the last one sent ended.
        if (diff.a.length === 0 && diff.b.length === 0) return;
        emit(depthUpdateEvent(s, lastId + 1, b.engineSeq, diff, now()));
        lastId = b.engineSeq;
      };
      return {
        channel: `depth:${market.symbol}`,
        handler: {
          snapshot(data, resync) {
            if (resync) return next(data);
            const b = asBook(data);
            book = b?.book ?? EMPTY_BOOK;
            lastId = b?.engineSeq ?? 0;
          },
          update: next,
        },
      };
    }
    case 'partial':
    case 'bookTicker': {
      let last = '';
      const next = (data: unknown) => {
        // No book yet (a market without orders so far): an empty one.
        const b = data === null ? { book: EMPTY_BOOK, engineSeq: 0 } : asBook(data);
        if (!b) return;
        if (spec.kind === 'bookTicker' && b.book.bids.length === 0 && b.book.asks.length === 0 && !last)
          return;
        const event =
          spec.kind === 'partial'
            ? partialDepth(b.book, b.engineSeq, spec.levels)
            : bookTickerEvent(s, b.book, b.engineSeq);
        const { u: _u, lastUpdateId: _l, ...content } = event as Record<string, unknown>;
        const key = JSON.stringify(content);
        if (key === last) return;
        last = key;
        emit(event);
      };
      return { channel: `depth:${market.symbol}`, handler: { snapshot: (data) => next(data), update: next } };
    }
    case 'ticker':
    case 'miniTicker': {
      const build = spec.kind === 'ticker' ? tickerEvent : miniTickerEvent;
      const next = (data: unknown) => {
        const t = tickerSchema.safeParse(data);
        if (t.success) emit(build(s, t.data, now()));
      };
      return {
        channel: `ticker:${market.symbol}`,
        handler: { snapshot: (data) => next(data), update: next },
      };
    }
  }
}

type RequestId = number | string | null;

/**
 * One Binance-style WebSocket connection: streams named in its URL, then SUBSCRIBE, UNSUBSCRIBE,
 * LIST_SUBSCRIPTIONS, SET_PROPERTY / GET_PROPERTY ("combined") requests. Raw connections (/ws)
 * send events as they are, combined ones (/stream) as {stream, data}.
 */
export class BinanceWsSession {
  private readonly feeds = new Map<string, ChannelFeed>();
  private user: UserStream | null = null;
  private closed = false;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly client: WsClient,
    private readonly deps: BinanceWsDeps,
    private combined: boolean,
  ) {}

  /**
   * Subscribes the streams a URL names; names that are not streams of this venue are ignored. A
   * listenKey among them is the account's user data stream; one that does not exist is -1125
   * and the connection is closed, as Binance does.
   */
  async open(names: readonly string[]): Promise<void> {
    const listenKey = names.find((n) => LISTEN_KEY_NAME.test(n));
    if (listenKey !== undefined && !(await this.openUserStream(listenKey))) return;
    const valid: ParsedStream[] = [];
    for (const name of names.slice(0, this.deps.maxStreams)) {
      const stream = parseStreamName(name);
      if (stream && this.deps.market(stream.symbol)) valid.push(stream);
    }
    await Promise.all(valid.map((s) => this.subscribe(s).catch(() => undefined)));
  }

  /** Handles a request frame; requests are answered one after the other, in the order sent. */
  onMessage(data: Buffer | ArrayBuffer | Buffer[]): Promise<void> {
    const next = this.queue.then(() => this.handle(data));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async handle(data: Buffer | ArrayBuffer | Buffer[]): Promise<void> {
    const text = Buffer.isBuffer(data)
      ? data.toString('utf8')
      : Array.isArray(data)
        ? Buffer.concat(data).toString('utf8')
        : Buffer.from(data).toString('utf8');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return this.error(null, 3, 'Invalid JSON: expected value at line 1 column 1');
    }
    if (inspectJson(text)) return this.error(null, 3, 'Invalid JSON: duplicate key or control character');
    if (typeof json !== 'object' || json === null || Array.isArray(json))
      return this.error(null, 2, 'Invalid request: request must be a JSON object');
    const req = json as Record<string, unknown>;
    const id = req.id;
    if (id !== undefined && id !== null && typeof id !== 'number' && typeof id !== 'string')
      return this.error(null, 1, "Invalid value type: 'id' must be a number, a string or null");
    const rid: RequestId = id ?? null;
    for (const key of Object.keys(req))
      if (key !== 'method' && key !== 'params' && key !== 'id')
        return this.error(rid, 0, `Unknown property '${key}'`);
    const params = req.params ?? [];
    if (!Array.isArray(params) || params.length > MAX_PARAMS)
      return this.error(rid, 1, `Invalid value type: 'params' must be an array of at most ${MAX_PARAMS}`);
    switch (req.method) {
      case 'SUBSCRIBE':
        return this.onSubscribe(rid, params);
      case 'UNSUBSCRIBE':
        for (const name of params) if (typeof name === 'string') this.drop(name);
        return this.result(rid, null);
      case 'LIST_SUBSCRIPTIONS':
        return this.result(rid, [...(this.user ? [this.user.listenKey] : []), ...this.feeds.keys()]);
      case 'SET_PROPERTY':
        if (params[0] !== 'combined' || typeof params[1] !== 'boolean')
          return this.error(rid, 2, 'Invalid request: SET_PROPERTY takes ["combined", true|false]');
        this.combined = params[1];
        return this.result(rid, null);
      case 'GET_PROPERTY':
        if (params[0] !== 'combined')
          return this.error(rid, 2, 'Invalid request: GET_PROPERTY takes ["combined"]');
        return this.result(rid, this.combined);
      default:
        return this.error(
          rid,
          2,
          'Invalid request: method must be SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY or GET_PROPERTY',
        );
    }
  }

  /** Ends every stream: the gauge loses exactly what this connection held. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const feed of this.feeds.values()) feed.stop();
    this.deps.onSubscriptionCount(-this.feeds.size);
    this.feeds.clear();
    this.endUserStream();
  }

  /** Follows a listenKey's account events; false (and the connection closed) when it does not exist. */
  private async openUserStream(listenKey: string): Promise<boolean> {
    const userData = this.deps.userData;
    let owner: { accountId: string; keyId: string } | null = null;
    try {
      owner = userData ? await userData.owner(listenKey) : null;
    } catch {
      this.error(
        null,
        BinanceCode.DISCONNECTED,
        'Internal error; unable to process your request. Please try again.',
      );
      this.closeConnection(1011, 'try again');
      return false;
    }
    if (!userData || !owner) {
      this.error(null, BinanceCode.INVALID_LISTEN_KEY, 'This listenKey does not exist.');
      this.closeConnection(1008, 'listenKey does not exist');
      return false;
    }
    const feed = new AccountEventFeed(userData.events, owner, (event) => this.event(listenKey, event));
    try {
      await feed.start();
    } catch {
      this.error(
        null,
        BinanceCode.DISCONNECTED,
        'Internal error; unable to process your request. Please try again.',
      );
      this.closeConnection(1011, 'try again');
      return false;
    }
    if (this.closed) {
      feed.stop();
      return false;
    }
    this.user = { listenKey, feed, timer: null };
    this.deps.onSubscriptionCount(1);
    this.checkUserStreamIn(userData.checkMs ?? LISTEN_KEY_CHECK_MS);
    return true;
  }

  private checkUserStreamIn(ms: number): void {
    const user = this.user;
    if (!user) return;
    user.timer = setTimeout(() => void this.checkUserStream(user), ms);
    user.timer.unref?.();
  }

  /**
   * A listenKey that expired (or was closed) while connected: Binance's listenKeyExpired event,
   * then no more account events; a connection with nothing else to carry is closed.
   */
  private async checkUserStream(user: UserStream): Promise<void> {
    const every = this.deps.userData?.checkMs ?? LISTEN_KEY_CHECK_MS;
    let left: number;
    try {
      left = (await this.deps.userData?.remainingMs(user.listenKey)) ?? 0;
    } catch {
      left = every; // Redis unreachable: not known to be gone, asked again later.
    }
    if (this.closed || this.user !== user) return;
    if (left > 0) return this.checkUserStreamIn(Math.min(every, left + 50));
    const now = this.deps.now ?? Date.now;
    this.event(user.listenKey, { e: 'listenKeyExpired', E: now(), listenKey: user.listenKey });
    this.endUserStream();
    if (this.feeds.size === 0) this.closeConnection(1000, 'listenKey expired');
  }

  private endUserStream(): void {
    const user = this.user;
    if (!user) return;
    this.user = null;
    if (user.timer) clearTimeout(user.timer);
    user.feed.stop();
    this.deps.onSubscriptionCount(-1);
  }

  private closeConnection(code: number, reason: string): void {
    if (this.client.readyState === WS_OPEN) this.client.close(code, reason);
    this.close();
  }

  private async onSubscribe(id: RequestId, params: unknown[]): Promise<void> {
    const streams: ParsedStream[] = [];
    for (const name of params) {
      const stream = typeof name === 'string' ? parseStreamName(name) : null;
      if (!stream) return this.error(id, 2, `Invalid request: unknown stream ${JSON.stringify(name)}`);
      if (!this.deps.market(stream.symbol))
        return this.error(id, 2, `Invalid request: unknown symbol in ${JSON.stringify(name)}`);
      streams.push(stream);
    }
    const fresh = streams.filter((s) => !this.feeds.has(s.name));
    if (this.feeds.size + new Set(fresh.map((s) => s.name)).size > this.deps.maxStreams)
      return this.error(id, 2, `Invalid request: at most ${this.deps.maxStreams} streams per connection`);
    const results = await Promise.allSettled(fresh.map((s) => this.subscribe(s)));
    if (results.some((r) => r.status === 'rejected'))
      return this.error(id, 2, 'Invalid request: stream temporarily unavailable, retry shortly');
    // Answered once every stream has its snapshot: a client that reads GET /api/v3/depth after
    // this answer gets a book at least as new as the point the depth events start from.
    this.result(id, null);
  }

  private async subscribe(stream: ParsedStream): Promise<void> {
    if (this.closed || this.feeds.has(stream.name)) return;
    const market = this.deps.market(stream.symbol)!;
    const { channel, handler } = feedFor(stream, market, this.deps, (event) =>
      this.event(stream.name, event),
    );
    const everyMs = 'everyMs' in stream.spec ? stream.spec.everyMs : undefined;
    const feed = new ChannelFeed(this.deps, channel, handler, everyMs);
    this.feeds.set(stream.name, feed);
    this.deps.onSubscriptionCount(1);
    try {
      await feed.start();
    } catch (err) {
      this.drop(stream.name, feed);
      throw err;
    }
  }

  private drop(name: string, only?: ChannelFeed): void {
    const feed = this.feeds.get(name);
    if (!feed || (only && feed !== only)) return;
    this.feeds.delete(name);
    feed.stop();
    this.deps.onSubscriptionCount(-1);
  }

  private event(stream: string, data: unknown): void {
    this.send(this.combined ? { stream, data } : data);
  }

  private result(id: RequestId, result: unknown): void {
    this.send({ result, id });
  }

  private error(id: RequestId, code: number, msg: string): void {
    this.send({ error: { code, msg }, id });
  }

  private send(frame: unknown): void {
    if (this.closed || this.client.readyState !== WS_OPEN) return;
    if (this.client.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.client.close(1013, 'slow consumer');
      this.close();
      return;
    }
    this.client.send(JSON.stringify(frame));
  }
}
