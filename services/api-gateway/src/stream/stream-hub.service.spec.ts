import { EventEmitter } from 'node:events';
import type { RedisConfig } from '@trading/config';
import type { StreamMessage } from '@trading/contracts';
import { StreamHub } from './stream-hub.service';

// The hub's one subscriber connection, as ioredis shows it to the hub: status, subscribe,
// unsubscribe, and 'message' events (what Redis would push).
class FakeSubscriber extends EventEmitter {
  status = 'ready';
  readonly subscribed: string[] = [];
  readonly unsubscribed: string[] = [];
  connect = async (): Promise<void> => undefined;
  disconnect = (): void => undefined;
  subscribe = async (channel: string): Promise<void> => {
    this.subscribed.push(channel);
  };
  unsubscribe = async (channel: string): Promise<void> => {
    this.unsubscribed.push(channel);
  };
}

let fake: FakeSubscriber;
jest.mock('@trading/redis', () => ({ createRedis: () => fake }));

const CHANNEL = 'stream:depth:BTC-USDT';
const publish = (seq: number) =>
  fake.emit(
    'message',
    CHANNEL,
    JSON.stringify({ channel: 'depth:BTC-USDT', seq, data: { bids: [[String(seq), '1', 1]], asks: [] } }),
  );

describe('StreamHub at a bounded rate (depth:<symbol>@1000ms)', () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: 1_000_000 });
    fake = new FakeSubscriber();
  });
  afterEach(() => jest.useRealTimers());

  it('hands its listeners at most one message a period, the latest, the same object to each; the others get every one', async () => {
    const hub = new StreamHub({} as RedisConfig, 'gateway');
    const everyOne: number[] = [];
    const a: StreamMessage[] = [];
    const b: StreamMessage[] = [];
    await hub.subscribe(CHANNEL, (m) => everyOne.push(m.seq));
    await hub.subscribe(CHANNEL, (m) => a.push(m), undefined, 1000);
    await hub.subscribe(CHANNEL, (m) => b.push(m), undefined, 1000);
    // One Redis subscription however many listen, at any rate.
    expect(fake.subscribed.filter((c) => c === CHANNEL)).toHaveLength(1);

    publish(1); // after a quiet spell: at once
    await jest.advanceTimersByTimeAsync(0);
    expect(a.map((m) => m.seq)).toEqual([1]);
    for (let seq = 2; seq <= 6; seq++) {
      publish(seq);
      await jest.advanceTimersByTimeAsync(150);
    }
    // 750 ms after the first: nothing more yet; at 1,000 ms the latest of the five.
    expect(a.map((m) => m.seq)).toEqual([1]);
    await jest.advanceTimersByTimeAsync(250);
    expect(a.map((m) => m.seq)).toEqual([1, 6]);
    expect(b).toEqual(a);
    expect(b[1]).toBe(a[1]);
    expect(everyOne).toEqual([1, 2, 3, 4, 5, 6]);
    // Nothing new: nothing sent.
    await jest.advanceTimersByTimeAsync(5000);
    expect(a).toHaveLength(2);
  });

  it('lets go of Redis when the last listener of every rate is gone, and stops its timer', async () => {
    const hub = new StreamHub({} as RedisConfig, 'gateway');
    const got: number[] = [];
    const off1 = await hub.subscribe(CHANNEL, (m) => got.push(m.seq), undefined, 100);
    const off2 = await hub.subscribe(CHANNEL, (m) => got.push(m.seq), undefined, 100);
    publish(1);
    publish(2);
    off1();
    expect(fake.unsubscribed).toEqual([]);
    off2();
    await jest.advanceTimersByTimeAsync(1000);
    expect(fake.unsubscribed).toEqual([CHANNEL]);
    expect(got).toEqual([]);
    expect(hub.channelCount).toBe(0);
  });
});
