import type { PublicTrade } from '@trading/contracts';
import { streamsOfUrl } from './binance-ws.gateway';
import {
  depthDiff,
  klineApply,
  klineEvent,
  klineFromSummary,
  parseStreamName,
  partialDepth,
  type KlineState,
} from './binance-ws.streams';

const market = { tickSize: '0.01', lotSize: '0.0001' };
const trade = (
  seq: number,
  price: string,
  qty: string,
  time: number,
  takerSide: 'buy' | 'sell' = 'buy',
): PublicTrade => ({
  symbol: 'BTC-USDT',
  tradeId: `BTC-USDT:${seq}`,
  seq,
  price,
  qty,
  takerSide,
  time,
});

describe('Binance stream names', () => {
  it.each([
    ['btcusdt@trade', { kind: 'trade' }],
    ['btcusdt@depth', { kind: 'depth' }],
    ['btcusdt@depth@100ms', { kind: 'depth', everyMs: 100 }],
    ['btcusdt@depth@1000ms', { kind: 'depth', everyMs: 1000 }],
    ['btcusdt@depth5', { kind: 'partial', levels: 5 }],
    ['btcusdt@depth20@100ms', { kind: 'partial', levels: 20, everyMs: 100 }],
    ['btcusdt@kline_1m', { kind: 'kline', interval: '1m', ms: 60_000 }],
    ['btcusdt@kline_1d', { kind: 'kline', interval: '1d', ms: 86_400_000 }],
    ['btcusdt@ticker', { kind: 'ticker' }],
    ['btcusdt@miniTicker', { kind: 'miniTicker' }],
    ['btcusdt@bookTicker', { kind: 'bookTicker' }],
  ])('%s', (name, spec) => {
    expect(parseStreamName(name)).toEqual({ name, symbol: 'BTCUSDT', spec });
  });

  it.each([
    'BTCUSDT@trade',
    'btcusdt@depth7',
    'btcusdt@depth@250ms',
    'btcusdt@kline_3m',
    'btcusdt@aggTrade',
    '!ticker@arr',
    'btcusdt',
    '0',
  ])('refuses %s', (name) => {
    expect(parseStreamName(name)).toBeNull();
  });

  it('reads the streams of a URL: /ws/<name> and /stream?streams=a/b', () => {
    expect(streamsOfUrl('/ws/btcusdt@trade')).toEqual(['btcusdt@trade']);
    expect(streamsOfUrl('/ws/0')).toEqual(['0']);
    expect(streamsOfUrl('/ws')).toEqual([]);
    expect(streamsOfUrl('/stream?streams=btcusdt@trade/btcusdt@depth5')).toEqual([
      'btcusdt@trade',
      'btcusdt@depth5',
    ]);
  });
});

describe('depth events', () => {
  it('lists the changed levels and the removed ones with quantity "0"', () => {
    const prev = {
      bids: [
        ['100', '1', 1],
        ['99', '2', 1],
      ] as [string, string, number][],
      asks: [['101', '1', 1]] as [string, string, number][],
    };
    const next = {
      bids: [
        ['100', '0.5', 1],
        ['98', '3', 2],
      ] as [string, string, number][],
      asks: [['101', '1', 1]] as [string, string, number][],
    };
    expect(depthDiff(prev, next)).toEqual({
      b: [
        ['100', '0.5'],
        ['98', '3'],
        ['99', '0'],
      ],
      a: [],
    });
    expect(partialDepth(next, 42, 1)).toEqual({
      lastUpdateId: 42,
      bids: [['100', '0.5']],
      asks: [['101', '1']],
    });
  });
});

describe('kline events', () => {
  it('builds the candle from trades, skips one already counted, and closes it when the next bucket starts', () => {
    let r = klineApply(null, trade(5, '100', '0.2', 60_010), 60_000, market);
    r = klineApply(r.state, trade(6, '101.5', '0.1', 60_020, 'sell'), 60_000, market);
    expect(klineApply(r.state, trade(6, '101.5', '0.1', 60_020), 60_000, market).changed).toBe(false);
    const k = klineEvent('BTCUSDT', '1m', 60_000, r.state!, false, market, 1);
    expect(k.k).toMatchObject({
      t: 60_000,
      T: 119_999,
      f: 5,
      L: 6,
      o: '100',
      h: '101.5',
      l: '100',
      c: '101.5',
      v: '0.3',
      n: 2,
      x: false,
      q: '30.15',
      V: '0.2',
      Q: '20',
    });
    const next = klineApply(r.state, trade(7, '99', '1', 120_000), 60_000, market);
    expect(next.closed).toBe(r.state);
    expect(klineEvent('BTCUSDT', '1m', 60_000, next.state!, false, market, 1).k).toMatchObject({
      t: 120_000,
      o: '99',
      v: '1',
      n: 1,
      f: 7,
    });
  });

  it('starts from the stored candle (ticks and lots) and counts only later trades', () => {
    const seed: KlineState = klineFromSummary(
      {
        trades: 2,
        firstSeq: 1,
        lastSeq: 2,
        open: '10000',
        high: '10100',
        low: '10000',
        close: '10100',
        volume: '3000',
        quoteVolume: '30200000',
        takerBuyVolume: '1000',
        takerBuyQuoteVolume: '10000000',
      },
      0,
      market,
    );
    const r = klineApply(seed, trade(2, '101', '0.2', 10), 60_000, market);
    expect(r.changed).toBe(false);
    const k = klineApply(seed, trade(3, '102', '0.1', 10), 60_000, market).state!;
    expect(klineEvent('BTCUSDT', '1m', 60_000, k, false, market, 1).k).toMatchObject({
      o: '100',
      h: '102',
      c: '102',
      v: '0.4',
      q: '40.4',
      V: '0.2',
      Q: '20.2',
      n: 3,
    });
  });
});
