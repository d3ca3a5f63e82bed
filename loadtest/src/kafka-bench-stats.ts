// The pure parts of `npm run bench:kafka-clients` (loadtest/src/kafka-clients.ts): latency
// samples and their percentiles, the range over repeated runs, the stamp a record carries.

/** Latencies in ms, appended as records arrive (a growable Float64Array: 75,000 a run at 5,000/s). */
export class LatencySamples {
  private values = new Float64Array(1024);
  private n = 0;

  get count(): number {
    return this.n;
  }

  push(ms: number): void {
    if (this.n === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.n++] = ms;
  }

  clear(): void {
    this.n = 0;
  }

  /** Nearest-rank percentile (p in 0..100) of the samples so far; NaN when there are none. */
  percentile(p: number): number {
    return percentile(this.values.subarray(0, this.n), p);
  }
}

/** Nearest-rank percentile (p in 0..100) of unsorted values; NaN when there are none. */
export function percentile(values: ArrayLike<number>, p: number): number {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** "a–b" (or "a" when every run gave the same figure) with `digits` decimals; "–" for none. */
export function range(values: number[], digits: number): string {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return '–';
  const lo = Math.min(...finite).toFixed(digits);
  const hi = Math.max(...finite).toFixed(digits);
  return lo === hi ? lo : `${lo}–${hi}`;
}

/** The mean of the values (NaN for none). */
export const mean = (values: number[]): number =>
  values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length;

/** How much cheaper `candidate` is than `baseline`, as a fraction (0.3 = 30 % cheaper; negative: dearer). */
export const cheaperBy = (baseline: number, candidate: number): number => 1 - candidate / baseline;

/**
 * A record's value: `bytes` long (at least 8), the first 8 bytes the send time (ms on this
 * process's performance clock, float64 LE), the rest filler. The consumer reads the stamp back.
 */
export function stampedValue(bytes: number, nowMs: number): Buffer {
  const value = Buffer.allocUnsafe(Math.max(8, bytes));
  value.fill(0x78, 8);
  value.writeDoubleLE(nowMs, 0);
  return value;
}

export const stampOf = (value: Buffer): number => value.readDoubleLE(0);
