import type { Message } from 'kafkajs';
import { splitOutputs } from './partition-transactions';

const msg = (partition: number | undefined, bytes: number, id: string): Message => ({
  key: id,
  value: 'x'.repeat(bytes),
  partition,
});
const ids = (calls: ReturnType<typeof splitOutputs>) =>
  calls.map((call) => call.map((t) => `${t.topic}:${t.messages.map((m) => m.key).join(',')}`));

describe('splitOutputs', () => {
  it('keeps everything in one call while no partition gets more than the limit', () => {
    const calls = splitOutputs(
      [
        { topic: 'a', messages: [msg(0, 300, '1'), msg(1, 300, '2'), msg(0, 300, '3')] },
        { topic: 'b', messages: [msg(0, 300, '4')] },
        { topic: 'empty', messages: [] },
      ],
      1000,
    );
    expect(ids(calls)).toEqual([['a:1,2,3', 'b:4']]);
  });

  it("starts a new call when a partition's share would pass the limit, keeping each partition in order", () => {
    const calls = splitOutputs(
      [
        { topic: 'a', messages: [msg(0, 400, '1'), msg(0, 400, '2'), msg(1, 100, '3'), msg(0, 400, '4')] },
        { topic: 'b', messages: [msg(0, 900, '5')] },
      ],
      1000,
    );
    // 1+2 fill partition a/0 (2 x 433 bytes); 4 would pass 1000, so it opens the second call.
    expect(ids(calls)).toEqual([['a:1,2,3'], ['a:4', 'b:5']]);
  });

  it('sends a single record above the limit alone, and counts unpartitioned messages together', () => {
    const calls = splitOutputs(
      [
        { topic: 'a', messages: [msg(0, 5000, 'big'), msg(0, 10, 'small')] },
        { topic: 'dlq', messages: [msg(undefined, 600, 'd1'), msg(undefined, 600, 'd2')] },
      ],
      1000,
    );
    expect(ids(calls)).toEqual([['a:big'], ['a:small', 'dlq:d1'], ['dlq:d2']]);
  });

  it('splits a backlog-sized batch so that no call carries more than the limit for one partition', () => {
    const messages = Array.from({ length: 4000 }, (_, i) => msg(3, 400, String(i)));
    const calls = splitOutputs([{ topic: 'executions', messages }]);
    expect(calls.length).toBeGreaterThan(1);
    expect(calls.flatMap((c) => c[0].messages.map((m) => m.key))).toEqual(messages.map((m) => m.key));
    for (const c of calls) {
      const bytes = c[0].messages.reduce((n, m) => n + 32 + String(m.key).length + String(m.value).length, 0);
      expect(bytes).toBeLessThanOrEqual(768 * 1024);
    }
  });
});
