import { averagePrice } from './order.view';

describe('averagePrice', () => {
  it('is exact to the tick scale plus 8 digits, rounded down', () => {
    // fills 1 lot at 10001 ticks and 1 lot at 10002 ticks, tick 0.01
    expect(averagePrice('20003', '2', '0.01')).toBe('100.015');
    // 1/3 of a tick
    expect(averagePrice('10', '3', '0.01')).toBe('0.0333333333');
  });

  it('is null before any fill', () => {
    expect(averagePrice('0', '0', '0.01')).toBeNull();
  });

  it('handles notionals beyond 2^53 without floats', () => {
    expect(averagePrice('90071992547409930', '10', '0.5')).toBe('4503599627370496.5');
  });
});
