import type Redis from 'ioredis';
import type { MarketSpec, StreamMessage } from '@trading/contracts';
import type { StreamHub } from '../stream/stream-hub.service';
import { BinanceWsSession } from './binance-ws.session';
import { recordingClient } from '../stream/ws-client.fixture';

const book = (engineSeq: number, asks: [string, string, number][]) => ({
  symbol: 'BTC-USDT',
  engineSeq,
  bids: [],
  asks,
  time: 1,
});

// A session over a hub and a Redis whose depth snapshot and messages the test controls.
function harness(snapshot: { seq: number; data: unknown }) {
  const { client, frames } = recordingClient();
  const listeners = new Map<string, (m: StreamMessage) => void>();
  const rates: (number | undefined)[] = [];
  let gauge = 0;
  const hub = {
    subscribe: async (
      channel: string,
      listener: (m: StreamMessage) => void,
      _resync: unknown,
      everyMs?: number,
    ) => {
      await new Promise((r) => setTimeout(r, 2));
      rates.push(everyMs);
      listeners.set(channel, listener);
      return () => listeners.delete(channel);
    },
  } as unknown as StreamHub;
  let snapshots = 0;
  const redis = {
    get: async () => {
      snapshots++;
      return JSON.stringify(snapshot);
    },
  } as unknown as Redis;
  const session = new BinanceWsSession(
    client,
    {
      hub,
      redis,
      market: (s) =>
        s === 'BTCUSDT'
          ? ({ symbol: 'BTC-USDT', tickSize: '0.01', lotSize: '0.0001' } as MarketSpec)
          : undefined,
      klineSeed: async () => null,
      maxStreams: 3,
      onSubscriptionCount: (d) => (gauge += d),
      now: () => 7,
    },
    false,
  );
  const send = (msg: unknown) => session.onMessage(Buffer.from(JSON.stringify(msg)));
  const publish = (channel: string, seq: number, data: unknown) =>
    listeners.get(`stream:${channel}`)?.({ channel, seq, data });
  return { frames, session, send, publish, gauge: () => gauge, rates, snapshots: () => snapshots };
}

describe('BinanceWsSession', () => {
  it('answers requests in the order sent, SUBSCRIBE once its stream has its snapshot', async () => {
    const h = harness({ seq: 1, data: book(10, []) });
    await Promise.all([
      h.send({ method: 'SUBSCRIBE', params: ['btcusdt@depth'], id: 1 }),
      h.send({ method: 'LIST_SUBSCRIPTIONS', id: 2 }),
      h.send({ method: 'SUBSCRIBE', params: ['ethusdt@depth'], id: 3 }),
      h.send({
        method: 'SUBSCRIBE',
        params: ['btcusdt@trade', 'btcusdt@ticker', 'btcusdt@bookTicker'],
        id: 4,
      }),
      h.send({ method: 'GET_PROPERTY', params: ['combined'], id: 5 }),
      h.send({ method: 'PING', id: 6 }),
      h.send({ method: 'LIST_SUBSCRIPTIONS', id: 7, extra: 1 }),
    ]);
    expect(h.frames).toEqual([
      { result: null, id: 1 },
      { result: ['btcusdt@depth'], id: 2 },
      { error: { code: 2, msg: expect.stringContaining('unknown symbol') }, id: 3 },
      { error: { code: 2, msg: expect.stringContaining('at most 3 streams') }, id: 4 },
      { result: false, id: 5 },
      { error: { code: 2, msg: expect.stringContaining('method must be') }, id: 6 },
      { error: { code: 0, msg: "Unknown property 'extra'" }, id: 7 },
    ]);
    expect(h.gauge()).toBe(1);
    h.session.close();
    expect(h.gauge()).toBe(0);
  });

  it('chains depth events from the snapshot: U is the previous u + 1, across a gap and an unchanged book', async () => {
    const h = harness({ seq: 1, data: book(10, []) });
    await h.send({ method: 'SUBSCRIBE', params: ['btcusdt@depth'], id: 1 });
    h.publish('depth:BTC-USDT', 2, book(12, [['100', '1', 1]]));
    h.publish('depth:BTC-USDT', 3, book(13, [['100', '1', 1]])); // nothing changed: no event
    h.publish('depth:BTC-USDT', 4, book(15, [['101', '2', 1]]));
    const events = h.frames.filter((f) => f.e === 'depthUpdate');
    expect(events).toEqual([
      { e: 'depthUpdate', E: 7, s: 'BTCUSDT', U: 11, u: 12, b: [], a: [['100', '1']] },
      {
        e: 'depthUpdate',
        E: 7,
        s: 'BTCUSDT',
        U: 13,
        u: 15,
        b: [],
        a: [
          ['101', '2'],
          ['100', '0'],
        ],
      },
    ]);
    h.session.close();
  });

  it('@100ms asks the hub for the bounded rate and chains the folded books without a fresh snapshot', async () => {
    const h = harness({ seq: 1, data: book(10, []) });
    await h.send({ method: 'SUBSCRIBE', params: ['btcusdt@depth@100ms'], id: 1 });
    expect(h.rates).toEqual([100]);
    // The hub folded seqs 2-4 into 5: one event from the snapshot's book to the latest.
    h.publish('depth:BTC-USDT', 5, book(16, [['100', '1', 1]]));
    h.publish('depth:BTC-USDT', 9, book(20, [['100', '3', 2]]));
    expect(h.snapshots()).toBe(1);
    expect(h.frames.filter((f) => f.e === 'depthUpdate')).toEqual([
      { e: 'depthUpdate', E: 7, s: 'BTCUSDT', U: 11, u: 16, b: [], a: [['100', '1']] },
      { e: 'depthUpdate', E: 7, s: 'BTCUSDT', U: 17, u: 20, b: [], a: [['100', '3']] },
    ]);
    h.session.close();
  });
});
