// Integer helpers. Prices and quantities are JS numbers restricted to safe integers
// (<= 2^53 - 1) so every sum and product the engine forms is exact; anything that could leave
// that range is rejected before it reaches the book.

/** True for a safe integer >= 1. */
export function isSafePositive(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n > 0;
}

/**
 * floor(a / b) for safe non-negative integers a and positive b, exact: the float quotient is
 * only an estimate and is corrected so that q * b <= a < (q + 1) * b.
 */
export function floorDiv(a: number, b: number): number {
  let q = Math.floor(a / b);
  while (q > 0 && q * b > a) q--;
  while ((q + 1) * b <= a) q++;
  return q;
}
