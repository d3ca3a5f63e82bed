import type { EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { z } from 'zod';
import {
  PARTITIONS_ASSIGNED,
  PartitionConsumer,
  type PartitionBatchContext,
  type PartitionConsumerOptions,
  type RejectedRecord,
} from './partition-consumer';
import type { ConsumedRecord } from './consumed-record';

const schema = z.object({ n: z.number() });
type Rec = z.infer<typeof schema>;

function fakeKafka() {
  const listeners: ((e: { payload: { memberAssignment: Record<string, number[]> } }) => void)[] = [];
  const seeks: { topic: string; partition: number; offset: string }[] = [];
  const consumer = {
    events: { GROUP_JOIN: 'join' },
    on: (_: string, cb: (typeof listeners)[number]) => listeners.push(cb),
    seek: (s: { topic: string; partition: number; offset: string }) => seeks.push(s),
    connect: async () => undefined,
    subscribe: async () => undefined,
    run: async () => undefined,
    disconnect: async () => undefined,
  };
  return {
    kafka: { consumer: () => consumer } as unknown as Kafka,
    seeks,
    join: (a: Record<string, number[]>) => listeners.forEach((l) => l({ payload: { memberAssignment: a } })),
  };
}

function message(offset: number, value: unknown): KafkaMessage {
  return {
    offset: String(offset),
    key: Buffer.from('k'),
    value: Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
    timestamp: '0',
    attributes: 0,
    headers: {},
  } as KafkaMessage;
}

function payload(topic: string, partition: number, messages: KafkaMessage[]) {
  const resolved: string[] = [];
  let commits = 0;
  const p = {
    batch: { topic, partition, messages, offsetLag: () => '7' },
    resolveOffset: (o: string) => resolved.push(o),
    heartbeat: async () => undefined,
    commitOffsetsIfNecessary: async () => {
      commits++;
    },
    uncommittedOffsets: () => ({ topics: [] }),
    isRunning: () => true,
    isStale: () => false,
  } as unknown as EachBatchPayload;
  return { p, resolved, commits: () => commits };
}

function setup(
  options: Partial<PartitionConsumerOptions>,
  handle: (records: ConsumedRecord<Rec>[], ctx: PartitionBatchContext) => Promise<unknown>,
) {
  const k = fakeKafka();
  const dead: RejectedRecord[] = [];
  const counted: string[] = [];
  const consumer = new PartitionConsumer(k.kafka, {
    name: 'test',
    groupId: 'g',
    topics: { a: schema, b: schema },
    commit: { kind: 'consumer' },
    deadLetters: { deadLetter: async (r) => void dead.push(r) },
    metrics: {
      observeBatch: (topic, partition, size, lag) =>
        counted.push(`batch ${topic}[${partition}] ${size} ${lag}`),
      deadLettered: (topic, reason) => counted.push(`dead ${topic} ${reason}`),
      retried: (topic) => counted.push(`retry ${topic}`),
    },
    backoff: { initialMs: 1, maxMs: 1 },
    ...options,
  });
  const calls: { topic: string; offsets: string[]; ctx: PartitionBatchContext }[] = [];
  const handler = async (records: ConsumedRecord<Rec>[], ctx: PartitionBatchContext) => {
    calls.push({ topic: ctx.topic, offsets: records.map((r) => r.offset), ctx });
    return handle(records, ctx);
  };
  consumer.addHandler('a', handler as never, true);
  consumer.addHandler('b', handler as never, true);
  consumer.listen(() => undefined);
  return { consumer, dead, counted, calls, ...k };
}

describe('PartitionConsumer', () => {
  it('hands one partition batch of valid records to its topic handler, dead-letters the rest once, then commits', async () => {
    let fail = 1;
    const t = setup({}, async () => {
      if (fail-- > 0) throw new Error('database down');
    });
    const b = payload('a', 3, [message(10, { n: 1 }), message(11, 'not json'), message(12, { n: 2 })]);
    await t.consumer.onBatch(b.p);
    expect(t.calls.map((c) => c.offsets)).toEqual([
      ['10', '12'],
      ['10', '12'],
    ]);
    expect(t.dead.map((d) => [d.offset, d.reason])).toEqual([['11', 'value is not JSON']]);
    expect(t.counted).toEqual(['dead a contract', 'retry a', 'batch a[3] 3 7']);
    expect(b.resolved).toEqual(['12']);
    expect(b.commits()).toBe(1);
  });

  it('in store mode starts at the stored position: seeks there, then skips what is below it', async () => {
    const stored = new Map([['a:0', 12]]);
    const t = setup(
      { commit: { kind: 'store', load: async (topic, p) => stored.get(`${topic}:${p}`) ?? null } },
      async () => undefined,
    );
    const first = payload('a', 0, [message(10, { n: 1 }), message(11, { n: 1 })]);
    await t.consumer.onBatch(first.p);
    expect(t.seeks).toEqual([{ topic: 'a', partition: 0, offset: '12' }]);
    expect(t.calls).toHaveLength(0);
    expect(first.resolved).toEqual([]);

    const again = payload('a', 0, [message(11, { n: 1 }), message(12, { n: 2 }), message(13, 'x')]);
    await t.consumer.onBatch(again.p);
    expect(t.calls.map((c) => [c.offsets, c.ctx.lastOffset])).toEqual([[['12'], '13']]);
    expect(again.resolved).toEqual(['13']);
    expect(again.commits()).toBe(0);

    // A batch that is all rejected still reaches the handler: it stores the position.
    const rejected = payload('a', 0, [message(14, 'x')]);
    await t.consumer.onBatch(rejected.p);
    expect(t.calls.map((c) => c.offsets)).toEqual([['12'], []]);

    // Nothing new: resolved, not handled.
    const old = payload('a', 0, [message(13, { n: 1 })]);
    await t.consumer.onBatch(old.p);
    expect(t.calls).toHaveLength(2);
    expect(old.resolved).toEqual(['13']);
  });

  it('in store mode reads the position again after a failed batch and after a rejoin', async () => {
    let loads = 0;
    let fail = 1;
    const t = setup(
      {
        commit: {
          kind: 'store',
          load: async () => {
            loads++;
            return loads === 2 ? 21 : 20;
          },
        },
      },
      async () => {
        if (fail-- > 0) throw new Error('commit failed');
      },
    );
    const b = payload('b', 1, [message(20, { n: 1 })]);
    await t.consumer.onBatch(b.p);
    // The failed commit landed after all: the stored position moved on, the retry seeks past it.
    expect(loads).toBe(2);
    expect(t.seeks).toEqual([{ topic: 'b', partition: 1, offset: '21' }]);
    t.join({ b: [1] });
    await t.consumer.onBatch(payload('b', 1, [message(20, { n: 1 })]).p);
    expect(loads).toBe(3);
  });

  it('hands rejected records to a handler that dead-letters them itself, and does not resolve after its seek', async () => {
    const t = setup({ commit: { kind: 'transaction' }, deadLetters: 'handler' }, async (_r, ctx) => {
      if (ctx.firstOffset === '0') ctx.seek(5);
    });
    const b = payload('a', 2, [message(0, { n: 1 }), message(1, '{}')]);
    await t.consumer.onBatch(b.p);
    expect(t.calls[0].ctx.rejected.map((r) => r.offset)).toEqual(['1']);
    expect(t.dead).toEqual([]);
    expect(t.seeks).toEqual([{ topic: 'a', partition: 2, offset: '5' }]);
    expect(b.resolved).toEqual([]);
    const c = payload('a', 2, [message(5, { n: 1 })]);
    await t.consumer.onBatch(c.p);
    expect(c.resolved).toEqual(['5']);
    expect(c.commits()).toBe(0);
  });

  it('runs the batches of one partition one at a time across topics when locking', async () => {
    const order: string[] = [];
    const t = setup({ lockPartitions: true }, async (_r, ctx) => {
      order.push(`start ${ctx.topic}`);
      await new Promise((r) => setTimeout(r, 5));
      order.push(`end ${ctx.topic}`);
    });
    await Promise.all([
      t.consumer.onBatch(payload('a', 0, [message(0, { n: 1 })]).p),
      t.consumer.onBatch(payload('b', 0, [message(0, { n: 1 })]).p),
    ]);
    expect(order).toEqual(['start a', 'end a', 'start b', 'end b']);
  });

  it('tells the assignment to the PARTITIONS_ASSIGNED handler and refuses a topic without one', async () => {
    const t = setup({}, async () => undefined);
    const seen: unknown[] = [];
    t.consumer.addHandler(PARTITIONS_ASSIGNED, (async (a: unknown) => void seen.push(a)) as never, true);
    t.join({ a: [0, 1] });
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual([{ a: [0, 1] }]);

    const k = fakeKafka();
    const lonely = new PartitionConsumer(k.kafka, {
      name: 'x',
      groupId: 'g',
      topics: { a: schema },
      commit: { kind: 'consumer' },
      deadLetters: 'handler',
    });
    expect(() => lonely.listen(() => undefined)).toThrow("no @EventPattern('a') handler");
  });
});
