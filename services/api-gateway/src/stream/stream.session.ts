import type Redis from 'ioredis';
import { redisKeys, STREAM_PATH, type StreamMessage } from '@trading/contracts';
import type { ApiKeyAuthService, AuthenticatedAccount } from '../auth/api-key-auth.service';
import { inspectJson } from '../common/edge-input';
import { ErrorCode, GatewayException } from '../errors/gateway.exception';
import type { MarketLookupService } from '../markets/market-lookup.service';
import { clientMessageSchema, WS_OPEN, type ClientMessage, type WsClient } from './stream-message.schema';
import type { AccountStreamViews } from './account-stream.views';
import type { StreamHub } from './stream-hub.service';

// A client this far behind is cut off rather than buffered without bound.
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
// Updates held while a snapshot is being read; beyond that the session resynchronises.
const MAX_PENDING = 10_000;

// The update frame of a market-data message, serialized once and sent as is to every socket on its
// channel: the hub hands each listener the same parsed message, and with thousands of subscribers
// one JSON.stringify per socket was most of the gateway's fan-out (`npm run load --ws-clients`).
const publicUpdateFrames = new WeakMap<StreamMessage, { channel: string; text: string }>();

/** Where a channel's snapshot comes from: a Redis key (market data) or the account's own view. */
type SnapshotSource = { kind: 'redis'; key: string } | { kind: 'account'; accountId: string };

interface Subscription {
  redisChannel: string;
  snapshot: SnapshotSource | null;
  live: boolean;
  syncing: boolean;
  pending: StreamMessage[];
  lastSeq: number;
  /**
   * A depth channel at a bounded rate (`depth:<symbol>@100ms`, `@1000ms`): every update is the
   * whole book, so the seq may skip (the updates in between were folded into this one).
   */
  everyMs?: number;
  /** An update that could not be shown before a fresh snapshot (it is skipped if it still cannot). */
  unviewable?: number;
  unsubscribe: (() => void) | null;
}

export interface SessionDeps {
  hub: StreamHub;
  redis: Redis;
  auth: ApiKeyAuthService;
  markets: MarketLookupService;
  /** The own-orders channel's snapshot and decimal updates (ADR 0014). */
  accountViews: AccountStreamViews;
  maxSubscriptions: number;
  onSubscriptionCount: (delta: number) => void;
}

/**
 * One WebSocket connection: its authentication and subscriptions. A subscription registers with
 * the hub first (buffering), then reads the snapshot, sends it, and forwards only updates with
 * a higher seq; a seq gap (e.g. after a Redis reconnect) triggers a fresh snapshot.
 */
export class StreamSession {
  private account: AuthenticatedAccount | null = null;
  private readonly subs = new Map<string, Subscription>();
  private closed = false;

  constructor(
    private readonly client: WsClient,
    private readonly deps: SessionDeps,
  ) {}

  async onMessage(data: Buffer | ArrayBuffer | Buffer[]): Promise<void> {
    const text = Buffer.isBuffer(data)
      ? data.toString('utf8')
      : Array.isArray(data)
        ? Buffer.concat(data).toString('utf8')
        : Buffer.from(data).toString('utf8');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return this.error('MALFORMED_JSON', 'message is not valid JSON');
    }
    // As for REST bodies: no duplicate or prototype key, no control character (named by field).
    const refused = inspectJson(text);
    if (refused) {
      const { code, message, field } = refused.toBody().error;
      return this.send({ type: 'error', code, message, ...(field !== undefined ? { field } : {}) });
    }
    const parsed = clientMessageSchema.safeParse(json);
    if (!parsed.success) {
      return this.error(
        ErrorCode.VALIDATION_FAILED,
        'expected {"op":"subscribe"|"unsubscribe"|"resync"|"auth"|"ping", ...}',
      );
    }
    try {
      await this.handle(parsed.data);
    } catch (err) {
      if (err instanceof GatewayException)
        this.error(err.code, err.message, 'channel' in parsed.data ? parsed.data.channel : undefined);
      else this.error(ErrorCode.INTERNAL_ERROR, 'internal error');
    }
  }

  /** Ends every subscription: the gauge loses exactly what this connection held. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const sub of this.subs.values()) sub.unsubscribe?.();
    this.deps.onSubscriptionCount(-this.subs.size);
    this.subs.clear();
  }

  // The gauge counts the entries of `subs`: it changes only here, with the map.
  private hold(channel: string, sub: Subscription): void {
    this.subs.set(channel, sub);
    this.deps.onSubscriptionCount(1);
  }

  /** Drops `sub` if it is still the channel's subscription; false when it was gone already. */
  private drop(channel: string, sub: Subscription): boolean {
    if (this.subs.get(channel) !== sub) return false;
    this.subs.delete(channel);
    sub.unsubscribe?.();
    this.deps.onSubscriptionCount(-1);
    return true;
  }

  private async handle(msg: ClientMessage): Promise<void> {
    switch (msg.op) {
      case 'ping':
        return this.send({ type: 'pong', time: Date.now() });
      case 'auth':
        return this.authenticate(msg);
      case 'subscribe':
        return this.subscribe(msg.channel);
      case 'unsubscribe': {
        const sub = this.subs.get(msg.channel);
        if (!sub) return this.error('NOT_SUBSCRIBED', 'not subscribed', msg.channel);
        this.drop(msg.channel, sub);
        return this.send({ type: 'unsubscribed', channel: msg.channel });
      }
      case 'resync': {
        const sub = this.subs.get(msg.channel);
        if (!sub?.snapshot) return this.error('NOT_SUBSCRIBED', 'not subscribed', msg.channel);
        if (!sub.live) return; // a snapshot is on its way
        return this.sync(msg.channel, sub);
      }
    }
  }

  private async authenticate(msg: Extract<ClientMessage, { op: 'auth' }>): Promise<void> {
    if (this.account) return this.error('ALREADY_AUTHENTICATED', 'this connection is already authenticated');
    // The same signature scheme as REST, over GET /v1/stream with an empty body.
    this.account = await this.deps.auth.authenticate({
      apiKey: msg.apiKey,
      timestamp: String(msg.timestamp),
      signature: msg.signature,
      method: 'GET',
      pathWithQuery: STREAM_PATH,
      body: '',
    });
    this.send({ type: 'authenticated', accountId: this.account.accountId });
  }

  private async subscribe(channel: string): Promise<void> {
    if (this.subs.has(channel)) return this.error('ALREADY_SUBSCRIBED', 'already subscribed', channel);
    if (this.subs.size >= this.deps.maxSubscriptions) {
      return this.error(
        'TOO_MANY_SUBSCRIPTIONS',
        `at most ${this.deps.maxSubscriptions} subscriptions per connection`,
        channel,
      );
    }
    // Held before the first await: a duplicate in the same burst of frames finds it and is
    // answered ALREADY_SUBSCRIBED (it used to pass this check too, replace it in the map and be
    // counted twice, and the replaced one was never answered).
    const sub: Subscription = {
      redisChannel: '',
      snapshot: null,
      live: false,
      syncing: false,
      pending: [],
      lastSeq: 0,
      unsubscribe: null,
    };
    this.hold(channel, sub);
    const target = await this.resolve(channel);
    if (!target) {
      this.drop(channel, sub);
      return;
    }
    // Unsubscribed or closed while the channel was resolved.
    if (this.closed || this.subs.get(channel) !== sub) return;
    sub.redisChannel = target.redisChannel;
    sub.snapshot = target.snapshot;
    sub.everyMs = target.everyMs;
    try {
      sub.unsubscribe = await this.deps.hub.subscribe(
        sub.redisChannel,
        (m) => this.onUpdate(channel, sub, m),
        // Redis lost and back (StreamHub.onReady), or the account feed started again
        // (StreamHub.accountFeedStarted): a fresh snapshot, whatever the seq says.
        sub.snapshot ? () => this.resyncAfterReconnect(channel, sub) : undefined,
        sub.everyMs,
      );
    } catch {
      this.drop(channel, sub);
      return this.error(
        ErrorCode.SERVICE_UNAVAILABLE,
        'stream temporarily unavailable, retry shortly',
        channel,
      );
    }
    // Unsubscribed or closed while Redis confirmed.
    if (this.closed || this.subs.get(channel) !== sub) return sub.unsubscribe();
    if (sub.snapshot) return this.sync(channel, sub);
    this.send({ type: 'subscribed', channel });
    sub.live = true;
    for (const m of sub.pending.splice(0)) this.forward(channel, sub, m);
  }

  /** Redis channel and snapshot key of a client channel; null (with an error sent) if invalid. */
  private async resolve(
    channel: string,
  ): Promise<{ redisChannel: string; snapshot: SnapshotSource | null; everyMs?: number } | null> {
    if (channel === 'orders') {
      if (!this.account) {
        this.error('UNAUTHENTICATED', 'send {"op":"auth",...} before subscribing to orders', channel);
        return null;
      }
      return {
        redisChannel: redisKeys.pubsub(redisKeys.orderChannel(this.account.accountId)),
        snapshot: { kind: 'account', accountId: this.account.accountId },
      };
    }
    const m = /^(depth|trades|ticker):([^@]{1,32})(?:@(100|1000)ms)?$/.exec(channel);
    if (!m || (m[3] !== undefined && m[1] !== 'depth')) {
      this.error(
        'UNKNOWN_CHANNEL',
        'channels are depth:<symbol> (or depth:<symbol>@100ms, @1000ms), trades:<symbol>, ticker:<symbol> and orders',
        channel,
      );
      return null;
    }
    const kind = m[1] as 'depth' | 'trades' | 'ticker';
    const market = await this.deps.markets.find(m[2]);
    if (!market) {
      this.error(ErrorCode.UNKNOWN_SYMBOL, `unknown symbol ${m[2]}`, channel);
      return null;
    }
    return {
      redisChannel: redisKeys.pubsub(`${kind}:${m[2]}`),
      snapshot: { kind: 'redis', key: redisKeys[kind](market.symbol) },
      ...(m[3] !== undefined ? { everyMs: Number(m[3]) } : {}),
    };
  }

  private resyncAfterReconnect(channel: string, sub: Subscription): void {
    if (this.closed || this.subs.get(channel) !== sub || !sub.live) return;
    // Updates after it count from the snapshot's seq, even one lower than the last sent.
    void this.sync(channel, sub);
  }

  /** Sends the snapshot, then the held updates newer than it. */
  private async sync(channel: string, sub: Subscription): Promise<void> {
    if (sub.syncing) return;
    sub.syncing = true;
    sub.live = false;
    try {
      let seq = 0;
      let data: unknown = null;
      const source = sub.snapshot!;
      if (source.kind === 'account') {
        ({ seq, data } = await this.deps.accountViews.snapshot(source.accountId));
        if (this.closed || this.subs.get(channel) !== sub) return;
      } else {
        const raw = await this.deps.redis.get(source.key);
        if (this.closed || this.subs.get(channel) !== sub) return;
        if (raw !== null) {
          const env = JSON.parse(raw) as { seq?: unknown; data?: unknown };
          if (typeof env.seq === 'number') seq = env.seq;
          data = env.data ?? null;
        }
      }
      this.send({ type: 'snapshot', channel, seq, data });
      sub.lastSeq = seq;
      sub.live = true;
      sub.syncing = false;
      // A gap among the held updates starts the next snapshot at once (live false again; it used
      // to be refused while this one was finishing, leaving the view stale until another update
      // came): the rest wait for it.
      for (const m of sub.pending.splice(0)) {
        if (sub.live) this.forward(channel, sub, m);
        else if (sub.pending.length < MAX_PENDING) sub.pending.push(m);
      }
    } catch {
      sub.syncing = false;
      this.error(ErrorCode.SERVICE_UNAVAILABLE, 'snapshot unavailable, resubscribe shortly', channel);
      this.drop(channel, sub);
    }
  }

  private onUpdate(channel: string, sub: Subscription, m: StreamMessage): void {
    if (this.closed) return;
    if (!sub.live) {
      if (sub.pending.length < MAX_PENDING) sub.pending.push(m);
      return;
    }
    this.forward(channel, sub, m);
  }

  private forward(channel: string, sub: Subscription, m: StreamMessage): void {
    let data = m.data;
    if (sub.snapshot) {
      // Repeats (at-least-once redelivery, or updates the snapshot already counts) are dropped.
      if (m.seq <= sub.lastSeq) return;
      if (m.seq !== sub.lastSeq + 1 && sub.everyMs === undefined) {
        // A gap: the snapshot (written before each publish) is at least this new.
        sub.pending = [m];
        void this.sync(channel, sub);
        return;
      }
      if (sub.snapshot.kind === 'account') {
        const view = this.deps.accountViews.update(m.data);
        if (view === null && sub.unviewable !== m.seq) {
          // A market or asset this process does not know yet: a snapshot loads it.
          sub.unviewable = m.seq;
          sub.pending = [m];
          void this.sync(channel, sub);
          return;
        }
        if (view === null) {
          // Not one this channel shows, even after a snapshot: counted, not sent.
          sub.lastSeq = m.seq;
          return;
        }
        data = view;
      }
      sub.lastSeq = m.seq;
    }
    if (sub.snapshot?.kind === 'account') {
      this.send({ type: 'update', channel, seq: m.seq, data });
      return;
    }
    let frame = publicUpdateFrames.get(m);
    if (frame?.channel !== channel) {
      frame = { channel, text: JSON.stringify({ type: 'update', channel, seq: m.seq, data }) };
      publicUpdateFrames.set(m, frame);
    }
    this.sendText(frame.text);
  }

  private error(code: string, message: string, channel?: string): void {
    this.send({ type: 'error', code, message, ...(channel !== undefined ? { channel } : {}) });
  }

  private send(frame: Record<string, unknown>): void {
    this.sendText(JSON.stringify(frame));
  }

  private sendText(text: string): void {
    if (this.closed || this.client.readyState !== WS_OPEN) return;
    if (this.client.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.client.close(1013, 'slow consumer');
      this.close();
      return;
    }
    this.client.send(text);
  }
}
