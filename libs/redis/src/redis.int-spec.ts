import { randomUUID } from 'node:crypto';
import { loadConfig, redisSchema } from '@trading/config';
import type { Socket } from 'node:net';
import { createRedis, pingRedis } from './redis-client';
import { StreamPublisher } from './stream-publisher';
import { redisKeys } from '@trading/contracts';

describe('redis', () => {
  const config = loadConfig(redisSchema);
  const a = createRedis(config, 'int-spec-a');
  const b = createRedis(config, 'int-spec-b');

  beforeAll(async () => {
    await Promise.all([a.connect(), b.connect()]);
  });

  afterAll(() => {
    a.disconnect();
    b.disconnect();
  });

  it('sends the commands of one loop turn in one write when coalescing, and answers each', async () => {
    const writesOf = async (coalesceWrites: boolean): Promise<number> => {
      const c = createRedis(config, 'int-spec-coalesce', { autoPipelining: false, coalesceWrites });
      try {
        await c.connect();
        const socket = c.stream as Socket & {
          _write: (...a: unknown[]) => void;
          _writev: (...a: unknown[]) => void;
        };
        let writes = 0;
        for (const name of ['_write', '_writev'] as const) {
          const inner = socket[name].bind(socket);
          socket[name] = (...a: unknown[]) => {
            writes++;
            inner(...a);
          };
        }
        const key = `test:${randomUUID()}`;
        const answers = await Promise.all(Array.from({ length: 20 }, () => c.incr(key)));
        expect(answers).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
        await c.del(key);
        return writes;
      } finally {
        c.disconnect();
      }
    };
    expect(await writesOf(true)).toBe(2); // the 20 INCRs, then the DEL
    expect(await writesOf(false)).toBe(21);
  });

  it('answers PING within the readiness timeout', async () => {
    await expect(pingRedis(a, 1000)).resolves.toBeUndefined();
  });

  it('stores a snapshot and fans an update out over pub/sub', async () => {
    const channel = `test:${randomUUID()}`;
    await a.set(`${channel}:snapshot`, JSON.stringify({ seq: 1 }), 'EX', 60);
    expect(JSON.parse((await b.get(`${channel}:snapshot`)) ?? 'null')).toEqual({ seq: 1 });

    const got = new Promise<string>((resolve) => b.on('message', (_c: string, m: string) => resolve(m)));
    await b.subscribe(channel);
    await a.publish(channel, 'update-2');
    await expect(got).resolves.toBe('update-2');
  });

  it('publishes many messages in one pipeline, in order and gap-free per channel', async () => {
    const one = `orders:${randomUUID()}`;
    const two = `orders:${randomUUID()}`;
    const got: { channel: string; seq: number; data: unknown }[] = [];
    const all = new Promise<void>((resolve) =>
      b.on('message', (_c: string, m: string) => {
        got.push(JSON.parse(m) as { channel: string; seq: number; data: unknown });
        if (got.length === 3) resolve();
      }),
    );
    await b.subscribe(redisKeys.pubsub(one), redisKeys.pubsub(two));
    await new StreamPublisher(a).publishMany([
      { channel: one, data: { n: 1 } },
      { channel: two, data: { n: 2 } },
      { channel: one, data: { n: 3 } },
    ]);
    await all;
    expect(got).toEqual([
      { channel: one, seq: 1, data: { n: 1 } },
      { channel: two, seq: 1, data: { n: 2 } },
      { channel: one, seq: 2, data: { n: 3 } },
    ]);
  });

  it('deletes keys in the pipeline of the messages', async () => {
    const channel = `orders:${randomUUID()}`;
    const [gone, kept] = [`it:${randomUUID()}`, `it:${randomUUID()}`];
    await a.set(gone, '1', 'EX', 60);
    await a.set(kept, '1', 'EX', 60);
    const got = new Promise<string>((resolve) => b.on('message', (_c: string, m: string) => resolve(m)));
    await b.subscribe(redisKeys.pubsub(channel));
    await new StreamPublisher(a).publishMany([{ channel, data: { n: 1 } }], [gone]);
    expect(JSON.parse(await got)).toEqual({ channel, seq: 1, data: { n: 1 } });
    expect([await a.exists(gone), await a.exists(kept)]).toEqual([0, 1]);
    await a.del(kept);
  });
});
