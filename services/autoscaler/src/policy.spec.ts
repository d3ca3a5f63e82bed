import { decide, initialState, type DecisionInput, type ServicePolicy, type SignalReading } from './policy';

const policy: ServicePolicy = {
  min: 2,
  max: 6,
  step: 1,
  cooldownSeconds: 60,
  upCooldownSeconds: 20,
  capAtPartitions: false,
  signals: [
    { name: 'cpu', up: 0.7, down: 0.3 },
    { name: 'consumer_lag', up: 1000, down: 100 },
  ],
};
const S = 1000;
const readings = (cpu: number | null, lag: number | null): SignalReading[] => [
  { name: 'cpu', value: cpu },
  { name: 'consumer_lag', value: lag },
];
const input = (over: Partial<DecisionInput>): DecisionInput => ({
  policy,
  current: 3,
  readings: readings(0.5, 500),
  now: 1_000_000,
  state: initialState(),
  partitions: 12,
  ...over,
});

/** Runs the policy tick after tick (every `every` ms) over a series of readings, replicas following. */
function simulate(series: SignalReading[][], start = 3, every = 10 * S, p = policy, partitions = 12) {
  let current = start;
  let state = initialState();
  const replicas: number[] = [];
  series.forEach((r, i) => {
    const d = decide({ policy: p, current, readings: r, now: i * every, state, partitions });
    current = d.to;
    state = d.state;
    replicas.push(current);
  });
  return replicas;
}

describe('autoscaler policy', () => {
  it('scales up by one step when one signal is above its upper threshold, naming it', () => {
    const d = decide(input({ readings: readings(0.2, 5000) }));
    expect(d).toEqual(
      expect.objectContaining({
        direction: 'up',
        from: 3,
        to: 4,
        reason: 'signal_above',
        signal: { name: 'consumer_lag', value: 5000, threshold: 1000 },
      }),
    );
    expect(d.state.lastChangeAt).toBe(1_000_000);
  });

  it('names the signal furthest above its threshold when several are', () => {
    const d = decide(input({ readings: readings(1.4, 1100) }));
    expect(d.signal).toEqual({ name: 'cpu', value: 1.4, threshold: 0.7 });
  });

  it('steps by the configured step, clamped to max', () => {
    expect(decide(input({ policy: { ...policy, step: 2 }, readings: readings(0.9, 0) })).to).toBe(5);
    expect(decide(input({ policy: { ...policy, step: 5 }, readings: readings(0.9, 0) })).to).toBe(6);
  });

  it('holds at max while a signal is above', () => {
    const d = decide(input({ current: 6, readings: readings(0.9, 0) }));
    expect(d).toEqual(expect.objectContaining({ direction: 'hold', to: 6, reason: 'at_max' }));
  });

  it('never runs matching workers above the partition count', () => {
    const capped = { ...policy, max: 20, capAtPartitions: true };
    expect(decide(input({ policy: capped, current: 4, partitions: 4, readings: readings(2, 0) }))).toEqual(
      expect.objectContaining({ direction: 'hold', reason: 'at_max', to: 4 }),
    );
    expect(decide(input({ policy: capped, current: 6, partitions: 4 }))).toEqual(
      expect.objectContaining({ direction: 'down', to: 4, reason: 'above_max' }),
    );
    expect(simulate(Array(30).fill(readings(2, 1e6)), 2, 30 * S, capped, 5).at(-1)).toBe(5);
  });

  it('brings replicas into [min, max] whatever the signals', () => {
    expect(decide(input({ current: 1, readings: readings(0, 0) }))).toEqual(
      expect.objectContaining({ direction: 'up', to: 2, reason: 'below_min' }),
    );
    expect(decide(input({ current: 9 }))).toEqual(
      expect.objectContaining({ direction: 'down', to: 6, reason: 'above_max' }),
    );
  });

  it('waits upCooldownSeconds after a change before the next step up', () => {
    const state = { lastChangeAt: 1_000_000 - 10 * S, belowSince: null };
    expect(decide(input({ state, readings: readings(0.9, 0) }))).toEqual(
      expect.objectContaining({ direction: 'hold', reason: 'up_cooldown' }),
    );
    const later = { lastChangeAt: 1_000_000 - 20 * S, belowSince: null };
    expect(decide(input({ state: later, readings: readings(0.9, 0) })).direction).toBe('up');
  });

  it('scales down only after every signal stayed below its lower threshold for the cooldown', () => {
    const first = decide(input({ readings: readings(0.1, 10) }));
    expect(first).toEqual(expect.objectContaining({ direction: 'hold', reason: 'down_waiting' }));
    expect(first.state.belowSince).toBe(1_000_000);
    const almost = decide(
      input({ readings: readings(0.1, 10), now: 1_000_000 + 59 * S, state: first.state }),
    );
    expect(almost.direction).toBe('hold');
    const d = decide(input({ readings: readings(0.1, 10), now: 1_000_000 + 60 * S, state: first.state }));
    expect(d).toEqual(
      expect.objectContaining({ direction: 'down', from: 3, to: 2, reason: 'signals_below' }),
    );
    expect(d.signal).toEqual({ name: 'cpu', value: 0.1, threshold: 0.3 });
  });

  it('does not scale down while one signal is between the thresholds (hysteresis), and restarts the wait', () => {
    const waiting = decide(input({ readings: readings(0.1, 10) }));
    const between = decide(
      input({ readings: readings(0.5, 10), now: 1_000_000 + 30 * S, state: waiting.state }),
    );
    expect(between).toEqual(expect.objectContaining({ direction: 'hold', reason: 'in_band' }));
    expect(between.state.belowSince).toBeNull();
    const again = decide(
      input({ readings: readings(0.1, 10), now: 1_000_000 + 70 * S, state: between.state }),
    );
    expect(again).toEqual(expect.objectContaining({ direction: 'hold', reason: 'down_waiting' }));
  });

  it('waits a cooldown after a change before stepping down again, and holds at min', () => {
    const justScaled = { lastChangeAt: 1_000_000 - 30 * S, belowSince: 1_000_000 - 120 * S };
    expect(decide(input({ readings: readings(0.1, 10), state: justScaled })).reason).toBe('down_waiting');
    expect(decide(input({ current: 2, readings: readings(0, 0) }))).toEqual(
      expect.objectContaining({ direction: 'hold', reason: 'at_min', to: 2 }),
    );
  });

  it('counts a signal with no series as below, but no series at all is no evidence', () => {
    expect(decide(input({ readings: readings(0.1, null) })).reason).toBe('down_waiting');
    const none = decide(
      input({ readings: readings(null, null), state: { lastChangeAt: null, belowSince: 0 } }),
    );
    expect(none).toEqual(expect.objectContaining({ direction: 'hold', reason: 'no_data' }));
    expect(none.state.belowSince).toBeNull();
  });

  it('changes nothing when Prometheus is unreachable, and forgets how long signals were below', () => {
    const d = decide(input({ readings: 'unavailable', state: { lastChangeAt: null, belowSince: 0 } }));
    expect(d).toEqual(
      expect.objectContaining({ direction: 'hold', to: 3, reason: 'prometheus_unavailable' }),
    );
    expect(d.state.belowSince).toBeNull();
  });

  it('does not flap: a load that comes and goes every tick never scales down, a steady one rises then falls once', () => {
    const noisy = Array.from({ length: 60 }, (_, i) => (i % 2 ? readings(0.8, 0) : readings(0.1, 0)));
    const r = simulate(noisy, 2);
    // Up to max, never down: the quiet ticks never last a cooldown.
    for (let i = 1; i < r.length; i++) expect(r[i]).toBeGreaterThanOrEqual(r[i - 1]);
    expect(r.at(-1)).toBe(6);

    const load = [...Array(12).fill(readings(0.9, 0)), ...Array(60).fill(readings(0.05, 0))];
    const steady = simulate(load, 2);
    const changes = steady.map((v, i) => v - (i ? steady[i - 1] : 2)).filter((x) => x !== 0);
    // Up while loaded (one step per up-cooldown), then down one step per cooldown.
    expect(changes.filter((c) => c > 0).length).toBe(4);
    expect(Math.max(...steady)).toBe(6);
    expect(steady.at(-1)).toBe(2);
    const firstDown = steady.findIndex((v, i) => i > 0 && v < steady[i - 1]);
    // Load stops at tick 12; the first step down comes a cooldown (6 ticks of 10 s) later.
    expect(firstDown).toBe(18);
  });
});
