import { fetchOptions } from '@trading/kafka';
import { MatchingWorkerConfigSchema } from './matching-worker.config';

describe('matching-worker config', () => {
  const { KAFKA_FETCH_MAX_WAIT_MS, KAFKA_FETCH_MIN_BYTES } = MatchingWorkerConfigSchema.shape;

  it('fetches fuller batches than the other services by default: up to 20 ms for 64 KB', () => {
    const config = {
      KAFKA_FETCH_MAX_WAIT_MS: KAFKA_FETCH_MAX_WAIT_MS.parse(undefined),
      KAFKA_FETCH_MIN_BYTES: KAFKA_FETCH_MIN_BYTES.parse(undefined),
    };
    expect(fetchOptions(config as Parameters<typeof fetchOptions>[0])).toEqual({
      maxWaitTimeInMs: 20,
      minBytes: 65_536,
    });
  });

  it('lets the environment override both', () => {
    expect(KAFKA_FETCH_MAX_WAIT_MS.parse('100')).toBe(100);
    expect(KAFKA_FETCH_MIN_BYTES.parse('1')).toBe(1);
    expect(() => KAFKA_FETCH_MIN_BYTES.parse('0')).toThrow();
  });
});
