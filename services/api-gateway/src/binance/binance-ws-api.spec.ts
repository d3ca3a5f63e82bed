import { createHmac } from 'node:crypto';
import { sampleMarketSpec, type StreamMessage } from '@trading/contracts';
import type { OrderRow, SettledFill } from '@trading/db';
import type { ApiKeyAuthService } from '../auth/api-key-auth.service';
import type { StreamHub } from '../stream/stream-hub.service';
import { BinanceWsApiSession, wsApiPayload } from './binance-ws-api';
import { sampleOrderRow } from './order-row.fixture';
import { recordingClient } from '../stream/ws-client.fixture';

const market = sampleMarketSpec();

const row = sampleOrderRow;

const fill: SettledFill = {
  symbol: 'BTC-USDT',
  seq: 9,
  tradeId: 'BTC-USDT:9',
  orderId: 'o-1',
  side: 'buy',
  liquidity: 'taker',
  price: 10000,
  qty: 2000,
  executedAt: new Date(2_000),
  fee: 40_000n,
};

function harness() {
  const { client, frames } = recordingClient();
  let listener: ((m: StreamMessage) => void) | null = null;
  let current = row();
  const seen: { payload?: string } = {};
  const session = new BinanceWsApiSession(client, {
    auth: {
      admitCanonical: async (_key: string, signature: string, payload: string) => {
        seen.payload = payload;
        if (signature !== createHmac('sha256', 'secret').update(payload).digest('hex'))
          throw Object.assign(new Error('bad signature'), { code: 'INVALID_SIGNATURE' });
        return { account: { accountId: 'a-1', keyId: 'ak_1' }, limit: 10, remaining: 9 };
      },
    } as unknown as ApiKeyAuthService,
    hub: {
      subscribe: async (_channel: string, l: (m: StreamMessage) => void) => {
        listener = l;
        return () => (listener = null);
      },
    } as unknown as StreamHub,
    findOrder: async () => current,
    fillsOf: async (r) => (r.filledQty === '0' ? [] : [fill]),
    balances: async () => [
      { asset: 'BTC', available: '0.2', held: '0' },
      { asset: 'ETH', available: '1', held: '0' },
      { asset: 'USDT', available: '979.96', held: '0' },
    ],
    market: async () => market,
  });
  const send = (msg: unknown) => session.onMessage(Buffer.from(JSON.stringify(msg)));
  const publish = async (seq: number) => {
    listener?.({
      channel: 'orders:a-1',
      seq,
      data: { type: 'order', orderId: 'o-1', status: current.status },
    });
    await new Promise((r) => setTimeout(r, 10));
  };
  return { frames, send, publish, seen, set: (r: OrderRow) => (current = r), session };
}

const signed = (secret: string) => {
  const params = { apiKey: 'ak_1', timestamp: Date.now() };
  const signature = createHmac('sha256', secret)
    .update(wsApiPayload({ apiKey: params.apiKey, timestamp: String(params.timestamp) }))
    .digest('hex');
  return { ...params, signature };
};

describe('BinanceWsApiSession', () => {
  it('signs over the sorted parameters without signature, as ccxt and Binance do', () => {
    expect(wsApiPayload({ timestamp: '5', signature: 'x', apiKey: 'ak_1', recvWindow: '5000' })).toBe(
      'apiKey=ak_1&recvWindow=5000&timestamp=5',
    );
  });

  it('refuses a bad signature and an unknown method, then subscribes and reports NEW, TRADE with its fee, and balances', async () => {
    const h = harness();
    await h.send({ id: 1, method: 'userDataStream.subscribe.signature', params: signed('wrong') });
    await h.send({ id: 2, method: 'order.place', params: {} });
    await h.send({ id: '3', method: 'userDataStream.subscribe.signature', params: signed('secret') });
    expect(h.frames).toEqual([
      { id: 1, status: expect.any(Number), error: { code: expect.any(Number), msg: expect.any(String) } },
      { id: 2, status: 400, error: { code: -1020, msg: expect.stringContaining('Not offered') } },
      { id: '3', status: 200, result: { subscriptionId: 0 } },
    ]);
    h.frames.length = 0;

    await h.publish(1);
    h.set(row({ status: 'partially_filled', filledQty: '2000', filledNotional: '20000000' }));
    await h.publish(2);
    const events = h.frames.map((f) => f.event as Record<string, unknown>);
    expect(events.map((e) => [e.e, e.x, e.X])).toEqual([
      ['executionReport', 'NEW', 'NEW'],
      ['outboundAccountPosition', undefined, undefined],
      ['executionReport', 'TRADE', 'PARTIALLY_FILLED'],
      ['outboundAccountPosition', undefined, undefined],
    ]);
    expect(events[2]).toMatchObject({
      s: 'BTCUSDT',
      S: 'BUY',
      o: 'LIMIT',
      q: '0.5',
      p: '100',
      l: '0.2',
      L: '100',
      z: '0.2',
      n: '0.04',
      N: 'USDT',
      t: 9,
      m: false,
      Y: '20',
      Z: '20',
    });
    expect(events[3].B).toEqual([
      { a: 'BTC', f: '0.2', l: '0' },
      { a: 'USDT', f: '979.96', l: '0' },
    ]);
    // The same fill is reported once.
    await h.publish(3);
    expect(h.frames).toHaveLength(4);
    h.session.close();
  });
});
