import type { Kafka } from 'kafkajs';

/** Offsets per partition, as strings (kafkajs). */
export type RangeOffsets = Record<number, string>;

/**
 * The committed records of `topic` with from[p] <= offset < to[p], per partition in offset order
 * (read_committed, a throwaway group, each offset once). Transaction markers occupy offsets too,
 * so a partition whose last records are markers ends when nothing arrives for `idleMs` after the
 * first batch; before it, joining the group may take longer (three brokers behind relays, a
 * loaded machine), so the wait for the first batch is `firstMs`.
 */
export async function readTopicRange(
  kafka: Kafka,
  topic: string,
  from: RangeOffsets,
  to: RangeOffsets,
  idleMs = 5000,
  firstMs = 30_000,
): Promise<Map<number, { offset: bigint; value: Buffer }[]>> {
  const pending = new Set(
    Object.keys(to)
      .map(Number)
      .filter((p) => BigInt(to[p]) > BigInt(from[p] ?? '0')),
  );
  const byOffset = new Map<number, Map<bigint, Buffer>>([...pending].map((p) => [p, new Map()]));
  if (pending.size > 0) {
    const consumer = kafka.consumer({
      groupId: `range-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`,
      readUncommitted: false,
      maxWaitTimeInMs: 200,
    });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: false });
      let lastProgress = Date.now();
      let started = false;
      let done!: () => void;
      const finished = new Promise<void>((r) => (done = r));
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          const p = batch.partition;
          if (!started) lastProgress = Date.now();
          started = true;
          const end = BigInt(to[p] ?? '0');
          for (const m of batch.messages) {
            const off = BigInt(m.offset);
            if (off < BigInt(from[p] ?? '0') || off >= end || !m.value) continue;
            byOffset.get(p)?.set(off, m.value); // a batch fetched twice counts once
            lastProgress = Date.now();
          }
          if (batch.messages.length && BigInt(batch.lastOffset()) >= end - 1n) pending.delete(p);
          if (pending.size === 0) done();
        },
      });
      for (const p of Object.keys(to).map(Number))
        consumer.seek({ topic, partition: p, offset: from[p] ?? '0' });
      const idle = setInterval(() => {
        if (Date.now() - lastProgress > (started ? idleMs : firstMs)) done();
      }, 250);
      await finished;
      clearInterval(idle);
    } finally {
      await consumer.disconnect();
    }
  }
  return new Map(
    [...byOffset].map(([p, m]) => [
      p,
      [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([offset, value]) => ({ offset, value })),
    ]),
  );
}
