import {
  cheaperBy,
  LatencySamples,
  mean,
  percentile,
  range,
  stampedValue,
  stampOf,
} from '../loadtest/src/kafka-bench-stats';

describe('bench:kafka-clients statistics', () => {
  it('takes nearest-rank percentiles of unsorted values', () => {
    const values = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
    expect(percentile(values, 50)).toBe(5);
    expect(percentile(values, 99)).toBe(10);
    expect(percentile(values, 100)).toBe(10);
    expect(percentile(values, 0)).toBe(1);
    expect(percentile([42], 99)).toBe(42);
    expect(percentile([], 50)).toBeNaN();
  });

  it('keeps every sample as it grows and starts over when cleared', () => {
    const s = new LatencySamples();
    for (let i = 3000; i >= 1; i--) s.push(i);
    expect(s.count).toBe(3000);
    expect(s.percentile(50)).toBe(1500);
    expect(s.percentile(99)).toBe(2970);
    s.clear();
    expect(s.count).toBe(0);
    expect(s.percentile(50)).toBeNaN();
    s.push(7);
    expect(s.percentile(99)).toBe(7);
  });

  it('writes ranges over runs, one figure when they agree, a dash for none', () => {
    expect(range([0.0412, 0.0388, 0.04], 3)).toBe('0.039–0.041');
    expect(range([1.2, 1.2], 1)).toBe('1.2');
    expect(range([NaN, 3], 0)).toBe('3');
    expect(range([], 2)).toBe('–');
  });

  it('compares costs as a fraction of the baseline', () => {
    expect(cheaperBy(0.1, 0.07)).toBeCloseTo(0.3);
    expect(cheaperBy(0.1, 0.12)).toBeCloseTo(-0.2);
    expect(mean([1, 2, 3])).toBe(2);
    expect(mean([])).toBeNaN();
  });

  it('stamps a record with its send time and reads it back', () => {
    const v = stampedValue(300, 12345.678);
    expect(v.length).toBe(300);
    expect(stampOf(v)).toBe(12345.678);
    expect(v.subarray(8).every((b) => b === 0x78)).toBe(true);
    expect(stampedValue(2, 1).length).toBe(8);
  });
});
