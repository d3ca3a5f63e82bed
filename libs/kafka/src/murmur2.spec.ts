import { Partitioners } from 'kafkajs';
import { murmur2, partitionFor } from './murmur2';

describe('murmur2', () => {
  // Vectors from Apache Kafka's UtilsTest.testMurmur2.
  it.each([
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ])('hashes %s exactly as the Java client does', (key, expected) => {
    expect(murmur2(key)).toBe(expected);
  });

  it('agrees with the kafkajs Java-compatible partitioner for symbols and account ids', () => {
    const partitioner = Partitioners.DefaultPartitioner();
    const partitionMetadata = Array.from({ length: 12 }, (_, i) => ({
      partitionId: i,
      leader: 0,
      partitionErrorCode: 0,
      replicas: [0],
      isr: [0],
    }));
    for (const key of ['BTC-USDT', 'ETH-USDT', 'acc-1', 'acc-42', '00000000-0000-4000-8000-000000000001']) {
      const expected = partitioner({ topic: 't', partitionMetadata, message: { key, value: null } });
      expect(partitionFor(key, 12)).toBe(expected);
    }
  });
});
