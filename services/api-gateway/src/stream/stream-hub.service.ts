import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type Redis from 'ioredis';
import type { RedisConfig } from '@trading/config';
import { redisKeys, streamMessageSchema, type StreamMessage } from '@trading/contracts';
import { createRedis } from '@trading/redis';

export type StreamListener = (message: StreamMessage) => void;

/** The accounts' order channels: fed by account.events.v1 (AccountEventsConsumer), not by Redis. */
const ACCOUNT_CHANNEL_PREFIX = redisKeys.pubsub(redisKeys.orderChannel(''));
/** How long a subscription to an account channel waits for the Kafka feed to be running. */
const ACCOUNT_FEED_WAIT_MS = 10_000;

/**
 * A Redis channel's messages to the listeners of one rate (`depth:<symbol>@1000ms`): at most one
 * every `everyMs`, the latest, the same object to all of them (so it is serialized once). Only for
 * channels whose every message is a whole state (a depth update is the book), where skipping
 * the ones in between loses nothing.
 */
interface Conflater {
  listeners: Set<StreamListener>;
  latest: StreamMessage | null;
  timer: NodeJS.Timeout | null;
  lastFlush: number;
  /** The hub's own subscription to the Redis channel, once Redis confirmed it. */
  ready: Promise<() => void>;
}

/**
 * The process's one Redis subscriber connection, shared by every WebSocket: a Redis channel is
 * subscribed while at least one socket listens to it (reference-counted) and each message is
 * parsed once, however many sockets receive it. ioredis re-subscribes after a reconnect; the
 * sessions notice a seq gap and resynchronise from the snapshot. The accounts' order channels
 * (`stream:orders:<accountId>`) are local: `deliver` hands them what the Kafka consumer of
 * account.events.v1 reads (ADR 0014).
 */
@Injectable()
export class StreamHub implements OnApplicationShutdown {
  private readonly logger = new Logger(StreamHub.name);
  private readonly sub: Redis;
  private readonly listeners = new Map<string, Set<StreamListener>>();
  /** What each Redis-fed listener does when the subscriber connection comes back (a fresh snapshot). */
  private readonly resyncs = new Map<StreamListener, () => void>();
  private connectedOnce = false;
  private accountFeedReady = false;
  /** What each account-channel listener does when the account feed starts again (a fresh snapshot). */
  private readonly accountResyncs = new Map<StreamListener, () => void>();
  private accountFeedWaiters: (() => void)[] = [];
  private readonly conflaters = new Map<string, Conflater>();

  constructor(@Inject('REDIS_CONFIG') config: RedisConfig, @Inject('APPLICATION_NAME') name: string) {
    this.sub = createRedis(config, `${name}-stream`);
    this.sub.on('error', () => undefined);
    this.sub.on('message', (channel: string, raw: string) => this.dispatch(channel, raw));
    this.sub.on('ready', () => this.onReady());
    this.sub.connect().catch(() => undefined);
  }

  /**
   * The subscriber is connected again (a Redis restart or a Sentinel failover): whatever was
   * published meanwhile is lost to it, and a promoted replica may even have counted a channel's
   * seq a little lower than the old primary did, so a gap is not a reliable sign. Every Redis
   * channel's sockets get a fresh snapshot instead (docs/reliability.md "Redis failover").
   */
  private onReady(): void {
    if (!this.connectedOnce) {
      this.connectedOnce = true;
      return;
    }
    const resyncs = [...this.resyncs.values()];
    if (resyncs.length > 0)
      this.logger.warn(`redis subscriber reconnected: ${resyncs.length} subscriptions resynchronised`);
    for (const resync of resyncs) resync();
  }
  get isReady(): boolean {
    return this.sub.status === 'ready';
  }

  /** The account feed reads account.events.v1 from its end: account channels can be subscribed. */
  accountFeedStarted(): void {
    // Started again (its consumer rejoined and read on from the end): what it skipped meanwhile
    // is unknown, so every account subscription takes a fresh snapshot.
    if (this.accountFeedReady) for (const resync of [...this.accountResyncs.values()]) resync();
    this.accountFeedReady = true;
    for (const w of this.accountFeedWaiters.splice(0)) w();
  }

  /** Whether anyone here listens to the account's order channel (the consumer skips the rest). */
  hasAccountListeners(accountId: string): boolean {
    return this.listeners.has(ACCOUNT_CHANNEL_PREFIX + accountId);
  }

  /** A record of account.events.v1 to the sockets of its account's order channel. */
  deliver(accountId: string, message: StreamMessage): void {
    const set = this.listeners.get(ACCOUNT_CHANNEL_PREFIX + accountId);
    if (!set) return;
    for (const listener of set) listener(message);
  }

  private async accountFeed(): Promise<void> {
    if (this.accountFeedReady) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.accountFeedWaiters = this.accountFeedWaiters.filter((w) => w !== done);
        reject(new Error('account feed not running'));
      }, ACCOUNT_FEED_WAIT_MS);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.accountFeedWaiters.push(done);
    });
  }

  /**
   * Listens to a Redis pub/sub channel; resolves once Redis confirmed the subscription. `resync`
   * runs when the subscriber connection comes back after losing Redis (not for account channels,
   * which Kafka feeds).
   */
  async subscribe(
    channel: string,
    listener: StreamListener,
    resync?: () => void,
    everyMs?: number,
  ): Promise<() => void> {
    if (everyMs !== undefined) return this.subscribeConflated(channel, everyMs, listener, resync);
    let set = this.listeners.get(channel);
    const first = !set;
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
    }
    set.add(listener);
    if (channel.startsWith(ACCOUNT_CHANNEL_PREFIX)) {
      try {
        await this.accountFeed();
      } catch (err) {
        this.remove(channel, listener);
        throw err;
      }
      if (resync) this.accountResyncs.set(listener, resync);
      return () => this.remove(channel, listener);
    }
    if (resync) this.resyncs.set(listener, resync);
    try {
      // Every subscriber waits for Redis' confirmation, even when the channel is already live.
      if (first || this.sub.status !== 'ready') await this.sub.subscribe(channel);
    } catch (err) {
      this.remove(channel, listener);
      throw err;
    }
    return () => this.remove(channel, listener);
  }

  /** `subscribe` at a bounded rate: one Redis subscription per channel and rate, shared. */
  private async subscribeConflated(
    channel: string,
    everyMs: number,
    listener: StreamListener,
    resync?: () => void,
  ): Promise<() => void> {
    const key = `${channel}@${everyMs}`;
    let c = this.conflaters.get(key);
    if (!c) {
      const created: Conflater = {
        listeners: new Set(),
        latest: null,
        timer: null,
        lastFlush: 0,
        ready: this.subscribe(channel, (m) => this.conflate(created, m, everyMs)),
      };
      c = created;
      this.conflaters.set(key, c);
      // A refused first subscription: the next subscriber tries Redis again.
      c.ready.catch(() => {
        if (this.conflaters.get(key) === created) this.conflaters.delete(key);
      });
    }
    const conflater = c;
    conflater.listeners.add(listener);
    const remove = (): void => {
      conflater.listeners.delete(listener);
      this.resyncs.delete(listener);
      if (conflater.listeners.size > 0 || this.conflaters.get(key) !== conflater) return;
      this.conflaters.delete(key);
      if (conflater.timer) clearTimeout(conflater.timer);
      conflater.ready.then((unsubscribe) => unsubscribe()).catch(() => undefined);
    };
    try {
      await conflater.ready;
      // As for any subscriber: Redis' confirmation, even when the channel is already live.
      if (this.sub.status !== 'ready') await this.sub.subscribe(channel);
    } catch (err) {
      remove();
      throw err;
    }
    if (resync) this.resyncs.set(listener, resync);
    return remove;
  }

  private conflate(c: Conflater, m: StreamMessage, everyMs: number): void {
    c.latest = m;
    if (c.timer) return;
    // The first change after a quiet spell goes at once; the ones after it wait for their turn.
    c.timer = setTimeout(
      () => {
        c.timer = null;
        c.lastFlush = Date.now();
        const latest = c.latest;
        c.latest = null;
        if (latest) for (const listener of c.listeners) listener(latest);
      },
      Math.max(0, c.lastFlush + everyMs - Date.now()),
    );
  }

  get channelCount(): number {
    return this.listeners.size;
  }

  onApplicationShutdown(): void {
    this.sub.disconnect();
  }

  private remove(channel: string, listener: StreamListener): void {
    const set = this.listeners.get(channel);
    this.resyncs.delete(listener);
    this.accountResyncs.delete(listener);
    if (!set) return;
    set.delete(listener);
    if (set.size === 0) {
      this.listeners.delete(channel);
      if (!channel.startsWith(ACCOUNT_CHANNEL_PREFIX)) this.sub.unsubscribe(channel).catch(() => undefined);
    }
  }

  private dispatch(channel: string, raw: string): void {
    const set = this.listeners.get(channel);
    if (!set) return;
    let message: StreamMessage;
    try {
      message = streamMessageSchema.parse(JSON.parse(raw));
    } catch {
      this.logger.warn(`malformed message on ${channel} dropped`);
      return;
    }
    for (const listener of set) listener(message);
  }
}
