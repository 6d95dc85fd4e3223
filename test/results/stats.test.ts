import { describe, expect, it } from "vitest";
import {
  abVerdict,
  normalCdf,
  normalQuantile,
  probabilityToBeat,
  proportionLift,
  sampleSizePerArm,
  studentCdf,
  studentQuantile,
  welch,
} from "../../worker/src/results/stats";

// Every expected value below was computed independently with Python 3 and SciPy 1.17
// (scipy.stats.norm / t / beta, scipy.integrate.quad, ttest_ind(equal_var=False)), not with this
// module: `python3 test/results/worked-examples.py` prints them.

describe("distribution functions", () => {
  it.each([
    [1.23, 0.8906514475743081],
    [-1.23, 1 - 0.8906514475743081],
    [0, 0.5],
  ])("should give Φ(%d)", (z, p) => expect(normalCdf(z)).toBeCloseTo(p, 6));
  it("should invert Φ", () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 8);
    expect(normalQuantile(0.01)).toBeCloseTo(-2.3263478740408408, 8);
    expect(normalQuantile(0.8)).toBeCloseTo(0.8416212335729143, 8);
  });
  it("should give Student's t with fractional degrees of freedom", () => {
    expect(studentCdf(-1.5, 3.2)).toBeCloseTo(0.11252226592086613, 8);
    expect(studentQuantile(0.975, 7.3)).toBeCloseTo(2.345066736547703, 7);
  });
});

describe("conversion lift (two proportions)", () => {
  const cases = [
    // x1, n1 (treated), x0, n0 (control): difference + Wald 95 % CI, relative + Katz log CI, pooled z p
    {
      name: "12 % vs 9 % of 1 000 each: significant",
      x: [120, 1000, 90, 1000],
      diff: [0.03, 0.0031620878, 0.0568379122],
      rel: [1 / 3, 0.0292342604, 0.7272819669],
      p: 0.0286502404,
    },
    {
      name: "9 % of 500 vs 5.8 % of 520: the difference CI excludes 0, the ratio CI just includes it",
      x: [45, 500, 30, 520],
      diff: [0.0323076923, 0.0002009952, 0.0644143894],
      rel: [0.56, -0.0006722808, 1.4352371633],
      p: 0.04812426525,
    },
    {
      name: "1.5 % vs 1.6 % of 2 000: no effect",
      x: [30, 2000, 32, 2000],
      diff: [-0.001, -0.0086562877, 0.0066562877],
      rel: [-0.0625, -0.4280809747, 0.5367669393],
      p: 0.7979570614,
    },
  ];
  it.each(cases)("should compute $name", ({ x, diff, rel, p }) => {
    const [x1, n1, x0, n0] = x as [number, number, number, number];
    const r = proportionLift(x1, n1, x0, n0);
    expect(r).not.toBeNull();
    if (!r) return;
    expect(r.difference).toBeCloseTo(diff[0] as number, 9);
    expect(r.differenceCi.low).toBeCloseTo(diff[1] as number, 6);
    expect(r.differenceCi.high).toBeCloseTo(diff[2] as number, 6);
    expect(r.relative).toBeCloseTo(rel[0] as number, 9);
    expect(r.relativeCi?.low).toBeCloseTo(rel[1] as number, 6);
    expect(r.relativeCi?.high).toBeCloseTo(rel[2] as number, 6);
    expect(r.pValue).toBeCloseTo(p, 6);
  });
  it("should give no ratio when the control converted no one, and nothing without recipients", () => {
    expect(proportionLift(5, 100, 0, 100)?.relative).toBeNull();
    expect(proportionLift(5, 100, 0, 0)).toBeNull();
  });
});

describe("revenue per recipient (Welch)", () => {
  it.each([
    {
      name: "small samples: [12, 15, 9, 20, 17] vs [8, 11, 7, 10]",
      t: { n: 5, sum: 73, sumSquares: 1139 },
      c: { n: 4, sum: 36, sumSquares: 334 },
      diff: 5.6,
      ci: [0.3316171413, 10.8683828587],
      df: 5.6390763244,
      p: 0.04079231658,
    },
    {
      name: "1 000 recipients each, revenue in pence, mostly zero: +170 p not significant",
      // treated: 880 × 0, 60 × 5 000, 60 × 10 000; control: 910 × 0, 50 × 5 000, 40 × 12 000
      t: { n: 1000, sum: 900000, sumSquares: 7500000000 },
      c: { n: 1000, sum: 730000, sumSquares: 7010000000 },
      diff: 170,
      ci: [-55.1508807152, 395.1508807152],
      df: 1997.4777805872,
      p: 0.1388265008,
    },
  ])("should compute $name", ({ t, c, diff, ci, df, p }) => {
    const r = welch(t, c);
    expect(r?.difference).toBeCloseTo(diff, 9);
    expect(r?.ci.low).toBeCloseTo(ci[0] as number, 5);
    expect(r?.ci.high).toBeCloseTo(ci[1] as number, 5);
    expect(r?.df).toBeCloseTo(df, 6);
    expect(r?.pValue).toBeCloseTo(p, 6);
  });
  it("should need two recipients per group", () =>
    expect(welch({ n: 1, sum: 5, sumSquares: 25 }, { n: 5, sum: 5, sumSquares: 5 })).toBeNull());
});

describe("sample size per arm (α 0.05, power 80 %)", () => {
  it.each([
    [0.05, 0.06, 8158],
    [0.1, 0.12, 3841],
    [0.2, 0.25, 1094],
    [0.03, 0.045, 2518],
  ])("should need n for %d → %d", (p0, p1, n) => expect(sampleSizePerArm(p0, p1)).toBe(n));
});

describe("A/B winner (Beta-Binomial probability to beat)", () => {
  it.each([
    [60, 500, 45, 500, 0.9384667902],
    [110, 1000, 100, 1000, 0.7666141363],
    [3, 20, 1, 20, 0.8283302064],
    [50, 600, 50, 600, 0.5],
  ])("should give P(%d/%d beats %d/%d)", (xb, nb, xa, na, p) =>
    expect(probabilityToBeat(xb, nb, xa, na)).toBeCloseTo(p, 8),
  );

  it("should declare a winner with ≥ 500 per arm and ≥ 90 %", () => {
    const v = abVerdict([
      { id: "a", recipients: 500, converted: 45 },
      { id: "b", recipients: 500, converted: 60 },
    ]);
    expect(v.winner).toBe("b");
    expect(v.probabilities.b).toBeCloseTo(0.9384667902, 8);
  });
  it("should not declare one below 500 recipients per arm, however large the lead", () => {
    const v = abVerdict([
      { id: "a", recipients: 499, converted: 5 },
      { id: "b", recipients: 499, converted: 60 },
    ]);
    expect(v.winner).toBeNull();
    expect(v.reason).toMatch(/not enough recipients/);
  });
  it("should not declare one under 90 %", () => {
    const v = abVerdict([
      { id: "a", recipients: 1000, converted: 100 },
      { id: "b", recipients: 1000, converted: 110 },
    ]);
    expect(v.winner).toBeNull();
    expect(v.probabilities.b).toBeCloseTo(0.7666141363, 8);
  });
});
