import { sampleMarketSpec } from '@trading/contracts';
import { BinanceCode, BinanceError } from './binance.errors';
import { affordableQuantity, generatedClientOrderId, priceFor } from './binance-trading.service';

const market = sampleMarketSpec({ minQtyLots: 10 });
// 0.5 at 100.00, 1 at 101.00 (ticks, lots).
const asks = [
  { price: 10_000, qty: 5_000 },
  { price: 10_100, qty: 10_000 },
];

function codeOf(f: () => unknown): number {
  try {
    f();
  } catch (err) {
    if (err instanceof BinanceError) return err.code;
    throw err;
  }
  throw new Error('expected a BinanceError');
}

describe('Binance market buys, bounded by the book', () => {
  it('protects a buy of a quantity at the ask that fills it (the last ask when the book is short)', () => {
    expect(priceFor('0.5', asks, market)).toBe('100');
    expect(priceFor('0.6', asks, market)).toBe('101');
    expect(priceFor('5', asks, market)).toBe('101');
    expect(codeOf(() => priceFor('1', [], market))).toBe(BinanceCode.NEW_ORDER_REJECTED);
  });

  it('asks a quote budget for what it buys at the best ask, and refuses one below the minimum quantity', () => {
    expect(affordableQuantity('50', asks, market)).toBe('0.5');
    expect(affordableQuantity('10.009999', asks, market)).toBe('0.1');
    expect(codeOf(() => affordableQuantity('0.05', asks, market))).toBe(BinanceCode.FILTER_FAILURE);
    expect(codeOf(() => affordableQuantity('50', [], market))).toBe(BinanceCode.NEW_ORDER_REJECTED);
  });
});

describe('a clientOrderId made up when newClientOrderId is not sent', () => {
  it('is 22 random alphanumerics, as Binance makes them, and a valid id', () => {
    const ids = new Set(Array.from({ length: 200 }, () => generatedClientOrderId()));
    expect(ids.size).toBe(200);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9]{22}$/);
  });
});
