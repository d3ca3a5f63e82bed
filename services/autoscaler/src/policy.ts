// The scaling decision of one service at one instant, as a pure function of the policy, the
// replicas it runs, the signals read from Prometheus and what happened before (docs/adr/0015):
// up fast (one signal above its upper threshold is enough, a short cooldown after each change),
// down slowly (every signal below its lower threshold for a whole cooldown, and a cooldown since
// the last change), hysteresis between the two thresholds, always within min, max and, for a
// consumer group, the partition count.

export interface SignalRule {
  /** Name in logs and metrics (`cpu`, `ack_latency_p99`, `consumer_lag` or the rule's own). */
  name: string;
  /** Above it: scale up. */
  up: number;
  /** Below it (every signal, for the cooldown): scale down. Lower than `up` (hysteresis). */
  down: number;
}

export interface ServicePolicy {
  min: number;
  max: number;
  step: number;
  /** Seconds every signal must stay below `down`, and since the last change, before a step down. */
  cooldownSeconds: number;
  /** Seconds after any change before the next step up (new tasks need time to take load). */
  upCooldownSeconds: number;
  /** Never above KAFKA_PARTITIONS: replicas beyond the partitions of the group sit idle. */
  capAtPartitions: boolean;
  signals: SignalRule[];
}

/** A signal's value; null when Prometheus has no series for it (no traffic, no target). */
export interface SignalReading {
  name: string;
  value: number | null;
}

export interface ScaleState {
  /** When replicas last changed (ms since epoch), by this autoscaler. */
  lastChangeAt: number | null;
  /** Since when every signal has been below its lower threshold (ms), null when one is not. */
  belowSince: number | null;
}

export const initialState = (): ScaleState => ({ lastChangeAt: null, belowSince: null });

export interface DecisionInput {
  policy: ServicePolicy;
  current: number;
  /** `unavailable`: Prometheus did not answer (or refused a query); nothing changes then. */
  readings: SignalReading[] | 'unavailable';
  now: number;
  state: ScaleState;
  partitions: number;
}

export type Direction = 'up' | 'down' | 'hold';

export type Reason =
  | 'below_min'
  | 'above_max'
  | 'signal_above'
  | 'signals_below'
  | 'at_max'
  | 'at_min'
  | 'up_cooldown'
  | 'down_waiting'
  | 'in_band'
  | 'no_data'
  | 'prometheus_unavailable';

export interface Decision {
  direction: Direction;
  from: number;
  to: number;
  reason: Reason;
  /** The signal that decided (the highest above `up`, or the closest to `down` when scaling down). */
  signal?: { name: string; value: number; threshold: number };
  state: ScaleState;
}

/** The highest replica count the policy allows. */
export function upperBound(policy: ServicePolicy, partitions: number): number {
  return policy.capAtPartitions ? Math.min(policy.max, partitions) : policy.max;
}

export function decide(input: DecisionInput): Decision {
  const { policy, current, readings, now, state, partitions } = input;
  const lo = policy.min;
  const hi = upperBound(policy, partitions);
  const hold = (reason: Reason, next: ScaleState, signal?: Decision['signal']): Decision => ({
    direction: 'hold',
    from: current,
    to: current,
    reason,
    signal,
    state: next,
  });
  const change = (to: number, reason: Reason, signal?: Decision['signal']): Decision => ({
    direction: to > current ? 'up' : 'down',
    from: current,
    to,
    reason,
    signal,
    state: { lastChangeAt: now, belowSince: null },
  });

  // Bounds come from configuration, not from the metrics: enforced even without Prometheus.
  if (current < lo) return change(lo, 'below_min');
  if (current > hi) return change(hi, 'above_max');
  if (readings === 'unavailable') return hold('prometheus_unavailable', { ...state, belowSince: null });

  const rules = new Map(policy.signals.map((r) => [r.name, r]));
  const known = readings.filter(
    (r): r is { name: string; value: number } => r.value !== null && Number.isFinite(r.value),
  );
  const above = known
    .map((r) => ({ name: r.name, value: r.value, threshold: rules.get(r.name)?.up ?? Infinity }))
    .filter((r) => r.value > r.threshold)
    .sort((a, b) => b.value / b.threshold - a.value / a.threshold)[0];
  if (above) {
    const next = { ...state, belowSince: null };
    if (current >= hi) return hold('at_max', next, above);
    if (state.lastChangeAt !== null && now - state.lastChangeAt < policy.upCooldownSeconds * 1000)
      return hold('up_cooldown', next, above);
    return change(Math.min(hi, current + policy.step), 'signal_above', above);
  }

  // No series at all (targets gone, or nothing scraped yet) is no evidence of idleness.
  if (known.length === 0) return hold('no_data', { ...state, belowSince: null });
  const closest = known
    .map((r) => ({ name: r.name, value: r.value, threshold: rules.get(r.name)?.down ?? -Infinity }))
    .sort((a, b) => b.value / (b.threshold || 1) - a.value / (a.threshold || 1))[0];
  if (!known.every((r) => r.value < (rules.get(r.name)?.down ?? -Infinity)))
    return hold('in_band', { ...state, belowSince: null }, closest);

  const belowSince = state.belowSince ?? now;
  const next = { ...state, belowSince };
  if (current <= lo) return hold('at_min', next, closest);
  const cooldown = policy.cooldownSeconds * 1000;
  if (now - belowSince < cooldown || (state.lastChangeAt !== null && now - state.lastChangeAt < cooldown))
    return hold('down_waiting', next, closest);
  return change(Math.max(lo, current - policy.step), 'signals_below', closest);
}
