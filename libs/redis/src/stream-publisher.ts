import type Redis from 'ioredis';
import { redisKeys } from '@trading/contracts';

// INCR of the channel's sequence, optional snapshot write and PUBLISH happen in one script, so a
// subscriber that reads the snapshot and then applies updates with a higher seq sees no gap.
const SCRIPT = `
local seq = redis.call('INCR', KEYS[1])
if KEYS[3] ~= '' then
  redis.call('SET', KEYS[3], '{"seq":' .. seq .. ',"data":' .. ARGV[2] .. '}')
end
redis.call('PUBLISH', KEYS[2], '{"channel":' .. cjson.encode(ARGV[1]) .. ',"seq":' .. seq .. ',"data":' .. ARGV[3] .. '}')
return seq`;

interface StreamCommands {
  publishStream(
    seqKey: string,
    pubsub: string,
    snapshotKey: string,
    channel: string,
    snapshotJson: string,
    dataJson: string,
  ): Promise<number>;
}

/** Publishes gap-free, sequenced messages on a stream channel (`trades:BTC-USDT`, `orders:<acct>`). */
export class StreamPublisher {
  private readonly redis: Redis & StreamCommands;

  constructor(redis: Redis) {
    redis.defineCommand('publishStream', { numberOfKeys: 3, lua: SCRIPT });
    this.redis = redis as Redis & StreamCommands;
  }

  /** Publishes `data`; when `snapshot` is given it becomes the channel's snapshot at the same seq. */
  publish(channel: string, data: unknown, snapshot?: { key: string; value: unknown }): Promise<number> {
    return this.redis.publishStream(
      redisKeys.channelSeq(channel),
      redisKeys.pubsub(channel),
      snapshot ? snapshot.key : '',
      channel,
      snapshot ? JSON.stringify(snapshot.value) : '',
      JSON.stringify(data),
    );
  }

  /**
   * Publishes many messages (no snapshots) in one pipeline: one write and one round trip instead
   * of one per message. Messages of a channel keep their order (a pipeline runs in order).
   * `deleteKeys` ride in the same pipeline, ahead of the messages: whoever sees a message knows
   * the keys are gone. Resolves with the first error of any command, if one failed.
   */
  async publishMany(
    messages: readonly { channel: string; data: unknown }[],
    deleteKeys: readonly string[] = [],
  ): Promise<void> {
    if (messages.length === 0 && deleteKeys.length === 0) return;
    const pipeline = this.redis.pipeline() as ReturnType<Redis['pipeline']> & {
      publishStream(...args: Parameters<StreamCommands['publishStream']>): unknown;
    };
    if (deleteKeys.length > 0) pipeline.del(...deleteKeys);
    for (const m of messages)
      pipeline.publishStream(
        redisKeys.channelSeq(m.channel),
        redisKeys.pubsub(m.channel),
        '',
        m.channel,
        '',
        JSON.stringify(m.data),
      );
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([err]) => err);
    if (failed) throw failed[0];
  }
}
