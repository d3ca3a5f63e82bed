// Exact decimal strings <-> integers of a step (ticks, lots, smallest units) with BigInt: the
// edge converts once, everything inward is integers. No floating point anywhere.

const DECIMAL = /^(0|[1-9][0-9]{0,29})(?:\.([0-9]{1,18}))?$/;

/** A decimal string as an integer of 10^-scale units, or null when it is not a plain decimal. */
export function parseDecimal(value: string, scale: number): bigint | null {
  const m = DECIMAL.exec(value);
  if (!m) return null;
  const frac = m[2] ?? '';
  if (frac.length > scale) {
    // More digits than the scale allows is fine only when they are zeros.
    if (!/^0*$/.test(frac.slice(scale))) return null;
  }
  const padded = (frac + '0'.repeat(scale)).slice(0, scale);
  return BigInt(m[1]) * 10n ** BigInt(scale) + (padded.length ? BigInt(padded) : 0n);
}

/** Number of fractional digits of a plain decimal string. */
export function scaleOf(value: string): number {
  const dot = value.indexOf('.');
  return dot < 0 ? 0 : value.length - dot - 1;
}

/** Formats an integer of 10^-scale units as a decimal string without trailing zeros. */
export function formatDecimal(units: bigint, scale: number): string {
  const negative = units < 0n;
  const abs = negative ? -units : units;
  const s = abs.toString().padStart(scale + 1, '0');
  const int = scale === 0 ? s : s.slice(0, s.length - scale);
  const frac = scale === 0 ? '' : s.slice(s.length - scale).replace(/0+$/, '');
  return `${negative ? '-' : ''}${int}${frac ? `.${frac}` : ''}`;
}

export type StepResult =
  | { ok: true; steps: number }
  | { ok: false; reason: 'not_a_decimal' | 'not_a_multiple' | 'zero' | 'too_large' };

/**
 * Converts a decimal amount into a whole number of `step`s (e.g. price into ticks). Refuses
 * anything that is not an exact multiple, zero, or beyond 2^53 - 1 steps.
 */
export function toSteps(value: string, step: string): StepResult {
  const scale = Math.max(scaleOf(value), scaleOf(step));
  const v = parseDecimal(value, scale);
  const s = parseDecimal(step, scale);
  if (v === null || s === null || s === 0n) return { ok: false, reason: 'not_a_decimal' };
  if (v === 0n) return { ok: false, reason: 'zero' };
  if (v % s !== 0n) return { ok: false, reason: 'not_a_multiple' };
  const steps = v / s;
  if (steps > BigInt(Number.MAX_SAFE_INTEGER)) return { ok: false, reason: 'too_large' };
  return { ok: true, steps: Number(steps) };
}

/** `steps` x `step` as a decimal string (ticks back to a price). */
export function fromSteps(steps: number | bigint, step: string): string {
  const scale = scaleOf(step);
  const s = parseDecimal(step, scale);
  if (s === null) throw new Error(`invalid step ${step}`);
  return formatDecimal(BigInt(steps) * s, scale);
}
