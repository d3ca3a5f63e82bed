import { RedisLatency } from './dependency-latency';
import { MetricsRegistry } from './metrics-registry';
import { PgBouncerPoolsCollector } from './pgbouncer-pools.collector';

describe('RedisLatency', () => {
  it('observes successful and failed calls by operation and rethrows failures', async () => {
    const m = new MetricsRegistry('svc', '0');
    const redis = new RedisLatency(m);
    await expect(redis.time('depth_read', () => Promise.resolve(42))).resolves.toBe(42);
    await expect(redis.time('depth_read', () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    const text = await m.render();
    expect(text).toMatch(
      /redis_command_duration_seconds_count\{service="svc",instance_id="0",op="depth_read",outcome="ok"\} 1/,
    );
    expect(text).toMatch(
      /redis_command_duration_seconds_count\{service="svc",instance_id="0",op="depth_read",outcome="error"\} 1/,
    );
  });
});

describe('PgBouncerPoolsCollector', () => {
  it('exports waiting clients and max wait per pool from SHOW POOLS', async () => {
    const m = new MetricsRegistry('svc', '0');
    const rows = [
      {
        database: 'exchange',
        user: 'exchange',
        cl_active: '6',
        cl_waiting: '3',
        sv_active: '2',
        sv_idle: '0',
        maxwait: '1',
        maxwait_us: '500000',
      },
    ];
    await new PgBouncerPoolsCollector(m, () => Promise.resolve(rows)).collect();
    const text = await m.render();
    expect(text).toContain(
      'pgbouncer_pool_client_waiting_connections{database="exchange",user="exchange",service="svc",instance_id="0"} 3',
    );
    expect(text).toContain(
      'pgbouncer_pool_client_maxwait_seconds{database="exchange",user="exchange",service="svc",instance_id="0"} 1.5',
    );
    expect(text).toContain('pgbouncer_admin_up{service="svc",instance_id="0"} 1');
  });

  it('reports the admin console down instead of throwing', async () => {
    const m = new MetricsRegistry('svc', '0');
    await new PgBouncerPoolsCollector(m, () => Promise.reject(new Error('refused'))).collect();
    expect(await m.render()).toContain('pgbouncer_admin_up{service="svc",instance_id="0"} 0');
  });
});
