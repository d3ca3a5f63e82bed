import * as buckets from './buckets';

/** The bucket histogram_quantile would interpolate in: the first upper bound at or above `v`. */
const bucketOf = (bounds: number[], v: number): number => bounds.find((b) => b >= v) ?? Infinity;

describe('histogram buckets', () => {
  it.each(Object.entries(buckets))('%s are strictly increasing', (_name, bounds) => {
    for (let i = 1; i < bounds.length; i++) expect(bounds[i]).toBeGreaterThan(bounds[i - 1]);
  });

  it('a backlog reads as its real age end to end, up to ten minutes, not as the old 10 s top bucket', () => {
    const p = buckets.PIPELINE_DURATION_BUCKETS_SECONDS;
    expect(bucketOf(p, 45)).toBe(60);
    expect(bucketOf(p, 250)).toBe(300);
    expect(bucketOf(p, 600)).toBe(600);
    // The fine resolution around the 250 ms target is kept.
    expect(bucketOf(p, 0.22)).toBe(0.25);
  });

  it('an acknowledgement stalled beyond the gateway timeout is still a finite bucket', () => {
    expect(bucketOf(buckets.ORDER_ACK_DURATION_BUCKETS_SECONDS, 12)).toBe(30);
    expect(bucketOf(buckets.ORDER_ACK_DURATION_BUCKETS_SECONDS, 0.045)).toBe(0.05);
  });
});
