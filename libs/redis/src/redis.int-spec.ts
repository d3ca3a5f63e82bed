import { randomUUID } from 'node:crypto';
import { loadConfig, redisSchema } from '@trading/config';
import { createRedis, pingRedis } from './redis-client';

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
});
