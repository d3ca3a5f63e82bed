import type Redis from 'ioredis';
import type { ApiKeyAuthService } from '../auth/api-key-auth.service';
import type { MarketLookupService } from '../markets/market-lookup.service';
import type { AccountStreamViews } from './account-stream.views';
import type { StreamHub } from './stream-hub.service';
import { StreamSession, type SessionDeps } from './stream.session';
import { recordingClient } from './ws-client.fixture';

// The ws_subscriptions gauge and the answers of a session, with a hub that confirms a Redis
// subscription a moment later (as Redis does) and a market that exists.
function harness() {
  const { client, frames } = recordingClient();
  let gauge = 0;
  const hubListeners = new Map<string, number>();
  const hub = {
    subscribe: async (channel: string) => {
      await new Promise((r) => setTimeout(r, 5));
      hubListeners.set(channel, (hubListeners.get(channel) ?? 0) + 1);
      return () => hubListeners.set(channel, hubListeners.get(channel)! - 1);
    },
  } as unknown as StreamHub;
  const session = new StreamSession(client, {
    hub,
    redis: { get: async () => null } as unknown as Redis,
    auth: {} as ApiKeyAuthService,
    markets: {
      find: async (symbol: string) => (symbol === 'BTC-USDT' ? { symbol } : undefined),
    } as unknown as MarketLookupService,
    accountViews: {} as AccountStreamViews,
    maxSubscriptions: 50,
    onSubscriptionCount: (delta) => (gauge += delta),
  });
  const send = (msg: Record<string, unknown>) => session.onMessage(Buffer.from(JSON.stringify(msg)));
  return { frames, session, send, gauge: () => gauge, listeners: () => [...hubListeners.values()] };
}

/** A session over a client that records its frames, with the given dependencies (the rest inert). */
function recordingSession(deps: Partial<SessionDeps>): {
  session: StreamSession;
  frames: Record<string, unknown>[];
} {
  const { client, frames } = recordingClient();
  const session = new StreamSession(client, {
    hub: {} as StreamHub,
    redis: {} as Redis,
    auth: {} as ApiKeyAuthService,
    markets: {} as MarketLookupService,
    accountViews: {} as AccountStreamViews,
    maxSubscriptions: 50,
    onSubscriptionCount: () => undefined,
    ...deps,
  });
  return { session, frames };
}

describe('StreamSession subscriptions', () => {
  it('answers every subscribe of a burst of duplicates and counts the subscription once', async () => {
    const h = harness();
    // Frames of one TCP read arrive in one turn: none waits for the previous one's answer.
    await Promise.all(
      Array.from({ length: 10 }, () => h.send({ op: 'subscribe', channel: 'ticker:BTC-USDT' })),
    );
    expect(h.frames).toHaveLength(10);
    expect(h.frames.filter((f) => f.type === 'snapshot')).toHaveLength(1);
    expect(h.frames.filter((f) => f.code === 'ALREADY_SUBSCRIBED')).toHaveLength(9);
    expect(h.gauge()).toBe(1);
    h.session.close();
    expect(h.gauge()).toBe(0);
    expect(h.listeners().every((n) => n === 0)).toBe(true);
  });

  it('gives back what a connection closed mid-subscribe held, and no more', async () => {
    const h = harness();
    const pending = [
      h.send({ op: 'subscribe', channel: 'ticker:BTC-USDT' }),
      h.send({ op: 'subscribe', channel: 'depth:BTC-USDT' }),
    ];
    h.session.close();
    await Promise.all(pending);
    expect(h.gauge()).toBe(0);
    expect(h.listeners().every((n) => n === 0)).toBe(true);
  });

  it('counts nothing for a refused subscribe and returns to zero after unsubscribe, resubscribe and close', async () => {
    const h = harness();
    await h.send({ op: 'subscribe', channel: 'ticker:NOPE-USDT' });
    await h.send({ op: 'subscribe', channel: 'orders' });
    expect(h.gauge()).toBe(0);
    await h.send({ op: 'subscribe', channel: 'trades:BTC-USDT' });
    await Promise.all([
      h.send({ op: 'unsubscribe', channel: 'trades:BTC-USDT' }),
      h.send({ op: 'subscribe', channel: 'trades:BTC-USDT' }),
      h.send({ op: 'subscribe', channel: 'trades:BTC-USDT' }),
    ]);
    expect(h.gauge()).toBe(1);
    h.session.close();
    expect(h.gauge()).toBe(0);
    expect(h.listeners().every((n) => n === 0)).toBe(true);
  });

  it('refuses duplicate keys and control characters in a frame, naming the field, and subscribes nothing', async () => {
    const h = harness();
    const raw = (text: string) => h.session.onMessage(Buffer.from(text));
    await raw('{"op":"subscribe","channel":"ticker:BTC-USDT","channel":"depth:BTC-USDT"}');
    await raw('{"op":"subscribe","channel":"ticker:BTC-USDT\\u0000"}');
    await raw('{"op":"ping","__proto__":{}}');
    expect(h.frames).toEqual([
      expect.objectContaining({ type: 'error', code: 'MALFORMED_JSON', field: 'channel' }),
      expect.objectContaining({ type: 'error', code: 'VALIDATION_FAILED', field: 'channel' }),
      expect.objectContaining({ type: 'error', code: 'MALFORMED_JSON', field: '__proto__' }),
    ]);
    expect(h.gauge()).toBe(0);
  });
});

describe('StreamSession after the hub lost Redis', () => {
  it('sends a fresh snapshot and counts on from its seq, even a seq lower than the last one sent', async () => {
    let snapshot = { seq: 10, data: { bids: [['1', '1']] } };
    let listener: ((m: { seq: number; data: unknown }) => void) | undefined;
    let resync: (() => void) | undefined;
    const { session, frames } = recordingSession({
      hub: {
        subscribe: async (_c: string, l: typeof listener, r: typeof resync) => {
          listener = l;
          resync = r;
          return () => undefined;
        },
      } as unknown as StreamHub,
      redis: { get: async () => JSON.stringify(snapshot) } as unknown as Redis,
      markets: { find: async (symbol: string) => ({ symbol }) } as unknown as MarketLookupService,
    });
    await session.onMessage(Buffer.from(JSON.stringify({ op: 'subscribe', channel: 'depth:BTC-USDT' })));
    listener!({ seq: 11, data: 'a' });
    // A Sentinel failover: the promoted replica had counted the channel to 7 only.
    snapshot = { seq: 7, data: { bids: [['2', '1']] } };
    resync!();
    await new Promise((r) => setImmediate(r));
    listener!({ seq: 8, data: 'b' });
    expect(frames.map((f) => [f.type, f.seq])).toEqual([
      ['snapshot', 10],
      ['update', 11],
      ['snapshot', 7],
      ['update', 8],
    ]);
  });
});

describe('StreamSession on the orders channel (ADR 0014)', () => {
  function ordersHarness() {
    let listener: ((m: { channel: string; seq: number; data: unknown }) => void) | undefined;
    let resync: (() => void) | undefined;
    let snapshotSeq = 5;
    let snapshots = 0;
    const { session, frames } = recordingSession({
      hub: {
        subscribe: async (_c: string, l: typeof listener, r: typeof resync) => {
          listener = l;
          resync = r;
          return () => undefined;
        },
      } as unknown as StreamHub,
      auth: {
        authenticate: async () => ({ accountId: 'acc-1' }),
      } as unknown as ApiKeyAuthService,
      accountViews: {
        snapshot: async () => {
          snapshots += 1;
          return { seq: snapshotSeq, data: { orders: [], balances: [] } };
        },
        update: (d: { type?: string; qty?: number }) =>
          d.type === 'order' ? { type: 'order', quantity: String((d.qty ?? 0) / 10) } : null,
      } as unknown as AccountStreamViews,
    });
    const send = (msg: Record<string, unknown>) => session.onMessage(Buffer.from(JSON.stringify(msg)));
    const push = (seq: number, data: unknown = { type: 'order', qty: 10 }) =>
      listener!({ channel: 'orders:acc-1', seq, data });
    return {
      frames,
      send,
      push,
      resync: () => resync!(),
      setSnapshotSeq: (s: number) => (snapshotSeq = s),
      snapshots: () => snapshots,
      orders: () => frames.filter((f) => f.channel === 'orders').map((f) => [f.type, f.seq]),
    };
  }

  async function subscribed() {
    const h = ordersHarness();
    await h.send({ op: 'auth', apiKey: 'k', timestamp: Date.now(), signature: 's' });
    await h.send({ op: 'subscribe', channel: 'orders' });
    return h;
  }
  const tick = () => new Promise((r) => setImmediate(r));

  it('sends the snapshot, then seq + 1 in the views’ decimals, dropping repeats and what the snapshot counts', async () => {
    const h = await subscribed();
    h.push(4);
    h.push(5);
    h.push(6);
    h.push(6);
    h.push(7);
    expect(h.orders()).toEqual([
      ['snapshot', 5],
      ['update', 6],
      ['update', 7],
    ]);
    expect(h.frames.find((f) => f.seq === 6)?.data).toEqual({ type: 'order', quantity: '1' });
  });

  it('answers a gap with a fresh snapshot and goes on from it', async () => {
    const h = await subscribed();
    h.setSnapshotSeq(9);
    h.push(6);
    h.push(9); // 7 and 8 missed: the snapshot at 9 covers them
    await tick();
    h.push(10);
    expect(h.orders()).toEqual([
      ['snapshot', 5],
      ['update', 6],
      ['snapshot', 9],
      ['update', 10],
    ]);
  });

  it('starts the next snapshot when the updates held during one have a gap of their own', async () => {
    const h = await subscribed();
    h.push(6);
    h.setSnapshotSeq(9);
    h.push(9); // gap: a snapshot at 9 is read; meanwhile 10 and 12 are held
    h.push(10);
    h.push(12);
    h.setSnapshotSeq(12);
    await tick();
    await tick();
    expect(h.orders()).toEqual([
      ['snapshot', 5],
      ['update', 6],
      ['snapshot', 9],
      ['update', 10],
      ['snapshot', 12],
    ]);
  });

  it('takes a fresh snapshot on {"op":"resync"} and when the account feed starts again', async () => {
    const h = await subscribed();
    await h.send({ op: 'resync', channel: 'orders' });
    h.resync();
    await tick();
    expect(h.snapshots()).toBe(3);
    await h.send({ op: 'resync', channel: 'ticker:BTC-USDT' });
    expect(h.frames.at(-1)).toMatchObject({ type: 'error', code: 'NOT_SUBSCRIBED' });
  });

  it('skips an update it cannot show after one fresh snapshot, instead of resynchronising forever', async () => {
    const h = await subscribed();
    h.push(6, { type: 'unknown' });
    await tick();
    h.push(6, { type: 'unknown' });
    h.push(7);
    expect(h.orders()).toEqual([
      ['snapshot', 5],
      ['snapshot', 5],
      ['update', 7],
    ]);
  });
});

describe('StreamSession fan-out', () => {
  it('serializes a market-data update once for every socket on its channel', async () => {
    const listeners: ((m: { seq: number; data: unknown }) => void)[] = [];
    const hub = {
      subscribe: async (_channel: string, listener: (m: { seq: number; data: unknown }) => void) => {
        listeners.push(listener);
        return () => undefined;
      },
    } as unknown as StreamHub;
    const deps: Partial<SessionDeps> = {
      hub,
      redis: {
        get: async () => JSON.stringify({ seq: 7, data: { bids: [], asks: [] } }),
      } as unknown as Redis,
      markets: { find: async (symbol: string) => ({ symbol }) } as unknown as MarketLookupService,
    };
    const sessions = [recordingSession(deps), recordingSession(deps), recordingSession(deps)];
    for (const { session } of sessions)
      await session.onMessage(Buffer.from(JSON.stringify({ op: 'subscribe', channel: 'depth:BTC-USDT' })));
    expect(listeners).toHaveLength(3);

    const update = { seq: 8, data: { bids: [['65000', '1', 1]], asks: [], time: 5 } };
    const stringify = jest.spyOn(JSON, 'stringify');
    try {
      for (const listener of listeners) listener(update);
      expect(stringify).toHaveBeenCalledTimes(1);
    } finally {
      stringify.mockRestore();
    }
    for (const { frames } of sessions)
      expect(frames.at(-1)).toEqual({ type: 'update', channel: 'depth:BTC-USDT', seq: 8, data: update.data });
  });
});

describe('StreamSession on depth at a bounded rate', () => {
  it('asks the hub for the rate, takes a skipping seq as the whole book without a fresh snapshot, drops older ones', async () => {
    let listener: ((m: { seq: number; data: unknown }) => void) | undefined;
    const asked: [string, number | undefined][] = [];
    let snapshots = 0;
    const { session, frames } = recordingSession({
      hub: {
        subscribe: async (channel: string, l: typeof listener, _r: unknown, everyMs: number | undefined) => {
          listener = l;
          asked.push([channel, everyMs]);
          return () => undefined;
        },
      } as unknown as StreamHub,
      redis: {
        get: async () => {
          snapshots++;
          return JSON.stringify({ seq: 10, data: { bids: [], asks: [] } });
        },
      } as unknown as Redis,
      markets: { find: async (symbol: string) => ({ symbol }) } as unknown as MarketLookupService,
    });
    await session.onMessage(
      Buffer.from(JSON.stringify({ op: 'subscribe', channel: 'depth:BTC-USDT@1000ms' })),
    );
    expect(asked).toEqual([['stream:depth:BTC-USDT', 1000]]);
    listener!({ seq: 14, data: 'book at 14' });
    listener!({ seq: 13, data: 'older' });
    listener!({ seq: 20, data: 'book at 20' });
    expect(snapshots).toBe(1);
    expect(frames.map((f) => [f.type, f.channel, f.seq])).toEqual([
      ['snapshot', 'depth:BTC-USDT@1000ms', 10],
      ['update', 'depth:BTC-USDT@1000ms', 14],
      ['update', 'depth:BTC-USDT@1000ms', 20],
    ]);
  });

  it('refuses a rate on other channels and rates other than 100 ms and 1,000 ms', async () => {
    const { frames, send, gauge } = harness();
    for (const channel of ['trades:BTC-USDT@100ms', 'ticker:BTC-USDT@1000ms', 'depth:BTC-USDT@500ms'])
      await send({ op: 'subscribe', channel });
    expect(frames.map((f) => [f.code, f.channel])).toEqual([
      ['UNKNOWN_CHANNEL', 'trades:BTC-USDT@100ms'],
      ['UNKNOWN_CHANNEL', 'ticker:BTC-USDT@1000ms'],
      ['UNKNOWN_CHANNEL', 'depth:BTC-USDT@500ms'],
    ]);
    expect(gauge()).toBe(0);
  });
});
