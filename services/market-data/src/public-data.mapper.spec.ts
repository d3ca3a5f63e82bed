import { sampleMarketSpec } from '@trading/contracts';
import { bestPrices, multiplyDecimals, toDepthSnapshot, toPublicTrade, toTicker } from './public-data.mapper';

const market = sampleMarketSpec({
  tickSize: '0.010000000000000000',
  lotSize: '0.000100000000000000',
  minNotional: '0',
});

describe('public data mapping', () => {
  it('multiplies decimal strings exactly', () => {
    expect(multiplyDecimals('0.01', '0.0001')).toBe('0.000001');
    expect(multiplyDecimals('5', '0.2')).toBe('1');
    expect(multiplyDecimals('0.1', '0.2')).toBe('0.02');
  });

  it('turns a trade event into a public trade with decimal price and quantity', () => {
    const trade = toPublicTrade(
      market,
      {
        type: 'trade',
        seq: 42,
        price: 6_500_012,
        qty: 15,
        makerOrderId: 'm',
        takerOrderId: 't',
        makerAccountId: 'a',
        takerAccountId: 'b',
        takerSide: 'sell',
        makerRemainingQty: 0,
        takerRemainingQty: 0,
      },
      1_700_000_000_000,
    );
    expect(trade).toEqual({
      symbol: 'BTC-USDT',
      tradeId: 'BTC-USDT:42',
      seq: 42,
      price: '65000.12',
      qty: '0.0015',
      takerSide: 'sell',
      time: 1_700_000_000_000,
    });
  });

  it('formats every depth level and keeps the engine seq', () => {
    const depth = toDepthSnapshot(
      market,
      {
        seq: 7,
        bids: [
          [100, 20_000, 3],
          [99, 1, 1],
        ],
        asks: [[101, 5, 1]],
      },
      123,
    );
    expect(depth).toEqual({
      symbol: 'BTC-USDT',
      engineSeq: 7,
      bids: [
        ['1', '2', 3],
        ['0.99', '0.0001', 1],
      ],
      asks: [['1.01', '0.0005', 1]],
      time: 123,
    });
    expect(bestPrices(depth)).toEqual({ bestBid: '1', bestAsk: '1.01' });
    expect(bestPrices({ bids: [], asks: [] })).toEqual({ bestBid: null, bestAsk: null });
  });

  it('values quote volume in ticks x lots at tick size x lot size, beyond 2^53 without loss', () => {
    const ticker = toTicker(
      market,
      {
        open: '100',
        high: '120',
        low: '90',
        last: '110',
        volume: '30',
        quoteVolume: '123456789012345678901',
        trades: 3,
      },
      { bestBid: '1.09', bestAsk: null },
      5,
    );
    expect(ticker).toEqual({
      symbol: 'BTC-USDT',
      open: '1',
      high: '1.2',
      low: '0.9',
      last: '1.1',
      volume: '0.003',
      quoteVolume: '123456789012345.678901',
      trades: 3,
      bestBid: '1.09',
      bestAsk: null,
      time: 5,
    });
  });

  it('reports a ticker without trades as nulls and zeros', () => {
    const ticker = toTicker(
      market,
      { open: null, high: null, low: null, last: null, volume: '0', quoteVolume: '0', trades: 0 },
      { bestBid: null, bestAsk: null },
      5,
    );
    expect(ticker).toMatchObject({ open: null, last: null, volume: '0', quoteVolume: '0', trades: 0 });
  });
});
