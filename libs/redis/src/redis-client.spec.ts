import { redisSchema } from '@trading/config';
import { parseSentinels, redisOptions } from './redis-client';

describe('redis connection options', () => {
  const config = (env: Record<string, string>) =>
    redisSchema.parse({ REDIS_URL: 'redis://127.0.0.1:6379/0', ...env });

  it('connects to REDIS_URL when no sentinel is configured', () => {
    const o = redisOptions(config({}), 'svc');
    expect(o.sentinels).toBeUndefined();
    expect(o).toMatchObject({ connectionName: 'svc', lazyConnect: true });
  });

  it('asks the sentinels for the primary of REDIS_SENTINEL_NAME, keeping the database of REDIS_URL', () => {
    const o = redisOptions(
      config({
        REDIS_URL: 'redis://redis:6379/3',
        REDIS_SENTINELS: 'redis-sentinel-1:26379,10.0.0.7:26380',
        REDIS_PASSWORD: 'p',
      }),
      'svc',
    );
    expect(o).toMatchObject({
      sentinels: [
        { host: 'redis-sentinel-1', port: 26379 },
        { host: '10.0.0.7', port: 26380 },
      ],
      name: 'exchange',
      role: 'master',
      db: 3,
      password: 'p',
      failoverDetector: true,
    });
    // A primary demoted under the connection answers READONLY: reconnect to the new one.
    expect(
      (o.reconnectOnError as (e: Error) => boolean)(
        new Error("READONLY You can't write against a read only replica."),
      ),
    ).toBe(true);
    expect((o.reconnectOnError as (e: Error) => boolean)(new Error('WRONGTYPE'))).toBe(false);
  });

  it('refuses a malformed sentinel list, naming the variable', () => {
    expect(() => config({ REDIS_SENTINELS: 'redis-sentinel-1' })).toThrow(/host:port/);
    expect(parseSentinels('a:1')).toEqual([{ host: 'a', port: 1 }]);
  });
});
