import fc from 'fast-check';
import { formatDecimal, fromSteps, parseDecimal, toSteps } from './decimal';
import { toMarketSpec } from './market-spec';

describe('decimal conversion at the edge', () => {
  it.each([
    ['100.25', '0.01', 10025],
    ['100.250000', '0.01', 10025],
    ['0.5', '0.5', 1],
    ['3', '0.001', 3000],
  ])('converts %s at step %s into %i steps', (v, step, steps) => {
    expect(toSteps(v, step)).toEqual({ ok: true, steps });
  });

  it.each([
    ['100.255', '0.01', 'not_a_multiple'],
    ['0', '0.01', 'zero'],
    ['0.000', '0.01', 'zero'],
    ['-1', '0.01', 'not_a_decimal'],
    ['1e3', '0.01', 'not_a_decimal'],
    ['1,5', '0.01', 'not_a_decimal'],
    ['.5', '0.01', 'not_a_decimal'],
    ['01', '0.01', 'not_a_decimal'],
    [' 1', '0.01', 'not_a_decimal'],
    ['NaN', '0.01', 'not_a_decimal'],
    ['99999999999999999999', '0.01', 'too_large'],
  ])('refuses %s at step %s (%s)', (v, step, reason) => {
    expect(toSteps(v, step)).toEqual({ ok: false, reason });
  });

  it('round-trips any number of steps exactly', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        fc.constantFrom('0.01', '0.5', '1', '0.00000001', '25'),
        (n, step) => {
          expect(toSteps(fromSteps(n, step), step)).toEqual({ ok: true, steps: n });
        },
      ),
    );
  });

  it('formats without trailing zeros', () => {
    expect(formatDecimal(1050n, 2)).toBe('10.5');
    expect(formatDecimal(5n, 3)).toBe('0.005');
    expect(parseDecimal('10.5', 2)).toBe(1050n);
  });
});

describe('toMarketSpec', () => {
  const row = {
    symbol: 'BTC-USDT',
    baseAsset: 'BTC',
    quoteAsset: 'USDT',
    baseDecimals: 8,
    quoteDecimals: 6,
    tickSize: '0.010000000000000000',
    lotSize: '0.000100000000000000',
    minQtyLots: 1,
    minNotional: '5.000000000000000000',
    makerFeeBps: 10,
    takerFeeBps: 20,
    status: 'trading' as const,
  };

  it('derives integer conversion factors', () => {
    const spec = toMarketSpec(row);
    expect(spec.tickSize).toBe('0.01');
    expect(spec.quoteUnitsPerTickLot).toBe(1n); // 0.01 * 0.0001 USDT = 1e-6 USDT
    expect(spec.baseUnitsPerLot).toBe(10_000n); // 0.0001 BTC = 1e4 satoshi
    expect(spec.minNotionalTickLots).toBe(5_000_000); // 5 USDT / 1e-6
  });

  it('refuses steps finer than the assets can hold', () => {
    expect(() => toMarketSpec({ ...row, quoteDecimals: 2 })).toThrow(/finer than USDT/);
    expect(() => toMarketSpec({ ...row, lotSize: '0.000000001', quoteDecimals: 18 })).toThrow(
      /finer than BTC/,
    );
  });
});
