/**
 * The statistics behind campaign results: pure functions, no I/O, table-tested against values
 * computed independently (scipy) in test/results/stats.test.ts.
 *
 * - Conversion lift: difference of two proportions with a 95 % Wald interval (unpooled standard
 *   error), and the relative lift p₁/p₀ − 1 with the Katz log interval for a ratio of proportions;
 *   the two-sided p-value is the pooled two-proportion z-test.
 * - Revenue per recipient: Welch's t interval for a difference of means with unequal variances
 *   (revenue is skewed and the groups differ in size, so a pooled variance would be wrong).
 * - Sample size per arm for a minimum detectable effect (α 0.05 two-sided, power 80 %): the
 *   normal-approximation formula with the pooled variance under H₀ (Fleiss, no continuity correction).
 * - A/B winner: Bayesian probability to beat with uniform Beta(1, 1) priors, computed exactly
 *   (Evan Miller's closed form), and declared only with ≥ 500 recipients per arm and ≥ 90 %.
 *   Why Bayesian rather than a z-test: the criterion merchants know (Klaviyo's) is a *win
 *   probability*, which a p-value is not; the probability reads directly ("B beats A with 94 %"),
 *   and the minimum sample keeps early, noisy leads from being called. The z-test p-value is
 *   reported next to it for those who want it.
 */

/** Standard normal CDF. erfc by Numerical Recipes' Chebyshev fit: |error| < 1.2e-7 everywhere. */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * x);
  const erfc =
    t *
    Math.exp(
      -x * x -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return z >= 0 ? 1 - erfc / 2 : erfc / 2;
}

/** Inverse standard normal CDF (Acklam's rational approximation, relative error < 1.2e-9). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError("p must be in (0, 1)");
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239,
  ];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const [a0, a1, a2, a3, a4, a5] = a as [number, number, number, number, number, number];
  const [b0, b1, b2, b3, b4] = b as [number, number, number, number, number];
  const [c0, c1, c2, c3, c4, c5] = c as [number, number, number, number, number, number];
  const [d0, d1, d2, d3] = d as [number, number, number, number];
  const tail = (q: number) =>
    (((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) / ((((d0 * q + d1) * q + d2) * q + d3) * q + 1);
  if (p < 0.02425) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - 0.02425) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a0 * r + a1) * r + a2) * r + a3) * r + a4) * r + a5) * q) /
    (((((b0 * r + b1) * r + b2) * r + b3) * r + b4) * r + 1)
  );
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms: ~15 significant digits). */
export function logGamma(x: number): number {
  const g = [
    0.9999999999998099, 676.5203681218851, -1259.1392167224028, 771.3234287776531, -176.6150291621406,
    12.507343278686905, -0.13857109526572012, 9.984369578019572e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const y = x - 1;
  let s = g[0] as number;
  for (let i = 1; i < 9; i++) s += (g[i] as number) / (y + i);
  const t = y + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (y + 0.5) * Math.log(t) - t + Math.log(s);
}

const logBeta = (a: number, b: number) => logGamma(a) + logGamma(b) - logGamma(a + b);

/** Regularised incomplete beta I_x(a, b) by its continued fraction (Lentz), as in Numerical Recipes. */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  // The fraction converges fast for x < (a + 1) / (a + b + 2); use the symmetry otherwise.
  if (x > (a + 1) / (a + b + 2)) return 1 - incompleteBeta(1 - x, b, a);
  const front = Math.exp(a * Math.log(x) + b * Math.log(1 - x) - logBeta(a, b)) / a;
  const tiny = 1e-300;
  let f = 1;
  let c = 1;
  let d = 0;
  for (let i = 0; i <= 400; i++) {
    const m = Math.floor(i / 2);
    const num =
      i === 0
        ? 1
        : i % 2 === 0
          ? (m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m))
          : -((a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1));
    d = 1 + num * d;
    if (Math.abs(d) < tiny) d = tiny;
    d = 1 / d;
    c = 1 + num / c;
    if (Math.abs(c) < tiny) c = tiny;
    const cd = c * d;
    f *= cd;
    if (Math.abs(1 - cd) < 1e-14) break;
  }
  return front * (f - 1);
}

/** Student's t CDF with `df` degrees of freedom (df may be fractional, as Welch's is). */
export function studentCdf(t: number, df: number): number {
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/** Inverse of studentCdf, by bisection on the monotone CDF (60 halvings: exact to double precision). */
export function studentQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError("p must be in (0, 1)");
  let lo = -1e3;
  let hi = 1e3;
  for (let i = 0; i < 100; i++) {
    const mid = (lo + hi) / 2;
    if (studentCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

export interface Interval {
  low: number;
  high: number;
}

export interface ProportionLift {
  /** Conversion rates of the treated group and the control group. */
  treated: number;
  control: number;
  /** p₁ − p₀ with its 95 % interval (absolute, in rate units). */
  difference: number;
  differenceCi: Interval;
  /** p₁ / p₀ − 1 with its 95 % interval; null when the control converted no one (undefined ratio). */
  relative: number | null;
  relativeCi: Interval | null;
  /** Two-sided p-value of the pooled two-proportion z-test. */
  pValue: number;
}

const Z95 = normalQuantile(0.975);

/** Lift of `x1/n1` (treated) over `x0/n0` (control). Both groups need at least one recipient. */
export function proportionLift(x1: number, n1: number, x0: number, n0: number): ProportionLift | null {
  if (n1 <= 0 || n0 <= 0) return null;
  const p1 = x1 / n1;
  const p0 = x0 / n0;
  const difference = p1 - p0;
  const se = Math.sqrt((p1 * (1 - p1)) / n1 + (p0 * (1 - p0)) / n0);
  const pooled = (x1 + x0) / (n1 + n0);
  const se0 = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0));
  const pValue = se0 === 0 ? 1 : 2 * (1 - normalCdf(Math.abs(difference) / se0));
  let relative: number | null = null;
  let relativeCi: Interval | null = null;
  if (x0 > 0 && x1 > 0) {
    relative = p1 / p0 - 1;
    const seLog = Math.sqrt(1 / x1 - 1 / n1 + 1 / x0 - 1 / n0);
    const log = Math.log(p1 / p0);
    relativeCi = { low: Math.exp(log - Z95 * seLog) - 1, high: Math.exp(log + Z95 * seLog) - 1 };
  } else if (x0 > 0) relative = -1;
  return {
    treated: p1,
    control: p0,
    difference,
    differenceCi: { low: difference - Z95 * se, high: difference + Z95 * se },
    relative,
    relativeCi,
    pValue,
  };
}

/** A group's per-recipient values, summarised: count, sum and sum of squares. */
export interface Moments {
  n: number;
  sum: number;
  sumSquares: number;
}

export interface MeanDifference {
  treated: number;
  control: number;
  difference: number;
  ci: Interval;
  /** Welch–Satterthwaite degrees of freedom. */
  df: number;
  pValue: number;
}

const variance = (m: Moments) => (m.n > 1 ? Math.max(0, (m.sumSquares - (m.sum * m.sum) / m.n) / (m.n - 1)) : 0);

/** Welch's difference of means (e.g. revenue per recipient, treated − control) with a 95 % interval. */
export function welch(treated: Moments, control: Moments): MeanDifference | null {
  if (treated.n < 2 || control.n < 2) return null;
  const m1 = treated.sum / treated.n;
  const m0 = control.sum / control.n;
  const a = variance(treated) / treated.n;
  const b = variance(control) / control.n;
  const se = Math.sqrt(a + b);
  const difference = m1 - m0;
  if (se === 0)
    return {
      treated: m1,
      control: m0,
      difference,
      ci: { low: difference, high: difference },
      df: Number.NaN,
      pValue: difference === 0 ? 1 : 0,
    };
  const df = (a + b) ** 2 / (a ** 2 / (treated.n - 1) + b ** 2 / (control.n - 1));
  const t = studentQuantile(0.975, df);
  return {
    treated: m1,
    control: m0,
    difference,
    ci: { low: difference - t * se, high: difference + t * se },
    df,
    pValue: 2 * (1 - studentCdf(Math.abs(difference) / se, df)),
  };
}

/**
 * Recipients needed per arm to detect a change from rate `p0` to `p1` (α two-sided, power):
 * n = (z_{1−α/2}·√(2p̄(1−p̄)) + z_{power}·√(p₀(1−p₀) + p₁(1−p₁)))² / (p₁ − p₀)², rounded up.
 */
export function sampleSizePerArm(p0: number, p1: number, alpha = 0.05, power = 0.8): number {
  if (p0 === p1) return Number.POSITIVE_INFINITY;
  const za = normalQuantile(1 - alpha / 2);
  const zb = normalQuantile(power);
  const bar = (p0 + p1) / 2;
  const n = (za * Math.sqrt(2 * bar * (1 - bar)) + zb * Math.sqrt(p0 * (1 - p0) + p1 * (1 - p1))) ** 2 / (p1 - p0) ** 2;
  return Math.ceil(n - 1e-9);
}

/**
 * P(rate_B > rate_A) with Beta(1 + x, 1 + n − x) posteriors, exactly:
 * Σ_{i=0}^{α_B−1} B(α_A + i, β_A + β_B) / ((β_B + i) · B(1 + i, β_B) · B(α_A, β_A)).
 * The sum has α_B = x_B + 1 terms, each a few log-gammas: 10 000 conversions cost ~1 ms.
 */
export function probabilityToBeat(xB: number, nB: number, xA: number, nA: number): number {
  const aA = 1 + xA;
  const bA = 1 + nA - xA;
  const aB = 1 + xB;
  const bB = 1 + nB - xB;
  let total = 0;
  for (let i = 0; i < aB; i++)
    total += Math.exp(logBeta(aA + i, bA + bB) - Math.log(bB + i) - logBeta(1 + i, bB) - logBeta(aA, bA));
  return Math.min(1, Math.max(0, total));
}

export const MIN_PER_ARM = 500;
export const MIN_WIN_PROBABILITY = 0.9;

export interface Arm {
  id: string;
  recipients: number;
  converted: number;
}

export interface Verdict {
  /** The winning arm, or null: not enough recipients yet, or no arm likely enough to be best. */
  winner: string | null;
  /** For each arm, the probability that it beats the best of the others. */
  probabilities: Record<string, number>;
  reason: string;
}

/**
 * Declares a winner only when every arm has ≥ MIN_PER_ARM recipients and the leader beats each
 * other arm with probability ≥ MIN_WIN_PROBABILITY. Never from raw counts alone.
 */
export function abVerdict(arms: Arm[]): Verdict {
  const probabilities: Record<string, number> = {};
  if (arms.length < 2) return { winner: null, probabilities, reason: "an A/B test needs two arms or more" };
  for (const a of arms) {
    const others = arms.filter((o) => o !== a);
    probabilities[a.id] = Math.min(
      ...others.map((o) => probabilityToBeat(a.converted, a.recipients, o.converted, o.recipients)),
    );
  }
  const small = arms.filter((a) => a.recipients < MIN_PER_ARM);
  if (small.length > 0)
    return {
      winner: null,
      probabilities,
      reason: `not enough recipients yet: ${small.map((a) => `${a.id} has ${a.recipients}`).join(", ")} (≥ ${MIN_PER_ARM} per arm needed)`,
    };
  const best = arms.reduce((x, y) => ((probabilities[y.id] ?? 0) > (probabilities[x.id] ?? 0) ? y : x));
  const p = probabilities[best.id] ?? 0;
  if (p < MIN_WIN_PROBABILITY)
    return {
      winner: null,
      probabilities,
      reason: `no winner yet: the leader (${best.id}) beats the others with ${(p * 100).toFixed(1)} % (≥ ${MIN_WIN_PROBABILITY * 100} % needed)`,
    };
  return { winner: best.id, probabilities, reason: `${best.id} beats every other arm with ${(p * 100).toFixed(1)} %` };
}
