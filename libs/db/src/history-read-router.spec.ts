import type { DataSource } from 'typeorm';
import {
  HistoryReadRouter,
  parseLsn,
  WalLagClock,
  type HistoryReadKind,
  type ReadServer,
} from './history-read-router';

/** A data source answering the probe's two queries from the given positions. */
function fake(state: { lsn: string | null; standby?: boolean; down?: boolean }): DataSource {
  return {
    isInitialized: true,
    query: (sql: string) => {
      if (state.down) return Promise.reject(new Error('connection refused'));
      if (sql.includes('pg_current_wal_lsn')) return Promise.resolve([{ lsn: state.lsn }]);
      if (sql.includes('pg_last_wal_replay_lsn'))
        return Promise.resolve([{ standby: state.standby ?? true, lsn: state.lsn }]);
      return Promise.resolve([]);
    },
  } as unknown as DataSource;
}

describe('parseLsn', () => {
  it('reads both halves of a WAL position', () => {
    expect(parseLsn('0/0')).toBe(0n);
    expect(parseLsn('16/B374D848')).toBe((0x16n << 32n) + 0xb374d848n);
    expect(() => parseLsn('nope')).toThrow(/WAL position/);
  });
});

describe('WalLagClock', () => {
  it('is 0 when the replica has replayed what the primary had, idle or not', () => {
    const clock = new WalLagClock();
    expect(clock.observe(1000, 100n, 100n)).toBe(0);
    // Idle primary: nothing new for a minute, still 0.
    expect(clock.observe(61_000, 100n, 100n)).toBe(0);
  });

  it('grows from the first position the replica has not replayed, and falls when it catches up', () => {
    const clock = new WalLagClock();
    expect(clock.observe(0, 100n, 100n)).toBe(0);
    expect(clock.observe(1000, 200n, 100n)).toBe(0); // first seen now
    expect(clock.observe(2000, 300n, 100n)).toBe(1000);
    expect(clock.observe(5000, 300n, 100n)).toBe(4000); // replay paused
    expect(clock.observe(6000, 400n, 250n)).toBe(4000); // 300 first seen at 2000
    expect(clock.observe(7000, 400n, 400n)).toBe(0);
  });
});

describe('HistoryReadRouter', () => {
  const reads: [HistoryReadKind, ReadServer][] = [];
  const metrics = { lag: jest.fn(), read: (k: HistoryReadKind, s: ReadServer) => reads.push([k, s]) };
  let now = 0;
  beforeEach(() => {
    reads.length = 0;
    now = 0;
  });

  it('reads the primary without a replica', async () => {
    const primary = fake({ lsn: '0/10' });
    const router = new HistoryReadRouter(primary, null, { maxLagMs: 1000, metrics });
    expect(await router.read('candles', async (db) => db === primary)).toBe(true);
    expect(reads).toEqual([['candles', 'primary']]);
  });

  it('reads the replica within the bound, the primary past it, when it is down or promoted', async () => {
    const p = { lsn: '0/10' };
    const r: { lsn: string | null; standby?: boolean; down?: boolean } = { lsn: '0/10' };
    const primary = fake(p);
    const replica = fake(r);
    const switches: string[] = [];
    const router = new HistoryReadRouter(primary, replica, {
      maxLagMs: 1500,
      metrics,
      now: () => now,
      onSwitch: (s) => switches.push(s),
    });
    const who = () =>
      router.read('trades', async (db) => {
        await db.query('SELECT 1');
        return db === replica ? 'replica' : 'primary';
      });
    expect(await who()).toBe('primary'); // before the first probe
    await router.probe();
    expect(await who()).toBe('replica');
    p.lsn = '0/20'; // replay stops at 0/10
    for (now = 1000; now <= 3000; now += 1000) await router.probe();
    expect(router.lagMs).toBe(2000);
    expect(await who()).toBe('primary');
    r.lsn = '0/20';
    now = 4000;
    await router.probe();
    expect(await who()).toBe('replica');
    r.down = true;
    // A failing replica read is answered by the primary at once.
    expect(await who()).toBe('primary');
    await router.probe();
    expect(router.lagMs).toBeNull();
    r.down = false;
    r.standby = false;
    await router.probe();
    expect(await who()).toBe('primary');
    expect(switches).toEqual(['replica', 'primary', 'replica', 'primary']);
    expect(reads.map(([, s]) => s)).toEqual([
      'primary',
      'replica',
      'primary',
      'replica',
      'primary',
      'primary',
    ]);
  });
});
