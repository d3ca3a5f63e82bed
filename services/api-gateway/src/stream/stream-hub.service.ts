import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type Redis from 'ioredis';
import type { RedisConfig } from '@trading/config';
import { streamMessageSchema, type StreamMessage } from '@trading/contracts';
import { createRedis } from '@trading/redis';

export type StreamListener = (message: StreamMessage) => void;

/**
 * The process's one Redis subscriber connection, shared by every WebSocket: a Redis channel is
 * subscribed while at least one socket listens to it (reference-counted) and each message is
 * parsed once, however many sockets receive it. ioredis re-subscribes after a reconnect; the
 * sessions notice a seq gap and resynchronise from the snapshot.
 */
@Injectable()
export class StreamHub implements OnApplicationShutdown {
  private readonly logger = new Logger(StreamHub.name);
  private readonly sub: Redis;
  private readonly listeners = new Map<string, Set<StreamListener>>();

  constructor(@Inject('REDIS_CONFIG') config: RedisConfig, @Inject('APPLICATION_NAME') name: string) {
    this.sub = createRedis(config, `${name}-stream`);
    this.sub.on('error', () => undefined);
    this.sub.on('message', (channel: string, raw: string) => this.dispatch(channel, raw));
    this.sub.connect().catch(() => undefined);
  }

  get isReady(): boolean {
    return this.sub.status === 'ready';
  }

  /** Listens to a Redis pub/sub channel; resolves once Redis confirmed the subscription. */
  async subscribe(channel: string, listener: StreamListener): Promise<() => void> {
    let set = this.listeners.get(channel);
    const first = !set;
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
    }
    set.add(listener);
    try {
      // Every subscriber waits for Redis' confirmation, even when the channel is already live.
      if (first || this.sub.status !== 'ready') await this.sub.subscribe(channel);
    } catch (err) {
      this.remove(channel, listener);
      throw err;
    }
    return () => this.remove(channel, listener);
  }

  get channelCount(): number {
    return this.listeners.size;
  }

  onApplicationShutdown(): void {
    this.sub.disconnect();
  }

  private remove(channel: string, listener: StreamListener): void {
    const set = this.listeners.get(channel);
    if (!set) return;
    set.delete(listener);
    if (set.size === 0) {
      this.listeners.delete(channel);
      this.sub.unsubscribe(channel).catch(() => undefined);
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
