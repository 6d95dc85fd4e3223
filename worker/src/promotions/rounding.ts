/**
 * Integer money arithmetic for the engine. Products of amounts and basis points can pass 2^53, so
 * the multiplications run in BigInt; every result is a whole number of minor units.
 */

/** Basis points (hundredths of a percent) of a percentage with at most two decimals. */
export const bps = (percent: number): number => Math.round(percent * 100);

/** `amount × bps / 10000`, rounded half-up (2.5p → 3p). */
export function percentOf(amount: number, basisPoints: number): number {
  return Number((BigInt(amount) * BigInt(basisPoints) * 2n + 10_000n) / 20_000n);
}

/** The tax contained in a tax-inclusive `gross` at `basisPoints`, rounded half-up. */
export function includedTax(gross: number, basisPoints: number): number {
  const d = BigInt(10_000 + basisPoints);
  return Number((BigInt(gross) * BigInt(basisPoints) * 2n + d) / (2n * d));
}

/**
 * Splits `amount` over `weights` in proportion, exactly: floors first, then the leftover minor
 * units go one each to the largest remainders (ties: larger weight, then earlier position). The
 * shares add up to `amount`, and no share exceeds its weight while `amount ≤ Σ weights`.
 */
export function allocate(amount: number, weights: number[]): number[] {
  const total = weights.reduce((a, b) => a + b, 0);
  if (amount <= 0 || total <= 0) return weights.map(() => 0);
  const a = BigInt(amount);
  const t = BigInt(total);
  const shares = weights.map((w) => Number((a * BigInt(w)) / t));
  let left = amount - shares.reduce((x, y) => x + y, 0);
  const order = weights
    .map((w, i) => ({ i, w, r: (a * BigInt(w)) % t }))
    .sort((x, y) => (x.r === y.r ? y.w - x.w || x.i - y.i : x.r > y.r ? -1 : 1));
  for (const { i, r } of order) {
    if (left === 0 || r === 0n) break;
    shares[i] = (shares[i] ?? 0) + 1;
    left--;
  }
  return shares;
}
