/**
 * How long pricing takes in the engine alone (no I/O):
 *   node test/bench/promotions.bench.ts (or npm run bench promotions)
 */
import { DEMO_PROMOTIONS } from "../../worker/src/promotions/demo-data";
import type { Promotion } from "../../worker/src/promotions/definition";
import { type CartInput, price } from "../../worker/src/promotions/engine";

const NOW = Date.parse("2026-11-23T12:00:00Z");
const typical: CartInput = {
  currency: "GBP",
  now: NOW,
  shipping: 495,
  lines: [
    { productId: "E7247", price: 7900, quantity: 1, categories: ["Speakers"] },
    { productId: "H4100", price: 12900, quantity: 1, categories: ["Headphones"] },
    { productId: "H1050", price: 2900, quantity: 2, categories: ["Headphones"] },
  ],
};
const largest: CartInput = {
  ...typical,
  lines: Array.from({ length: 100 }, (_, i) => ({
    productId: `P${i}`,
    price: 500 + ((i * 7919) % 20_000),
    quantity: 10,
    categories: [`C${i % 5}`],
  })),
};
const many: Promotion[] = [
  ...DEMO_PROMOTIONS,
  { id: "b2g1", action: { type: "buy_x_get_y", buy: {}, buyQuantity: 2, get: {}, getQuantity: 1 } },
  { id: "bundle", action: { type: "bundle_price", target: { categories: ["C1"] }, quantity: 3, price: 1000 } },
  { id: "tiers", action: { type: "tiered_percent", tiers: [{ minSubtotal: 5000, percent: 10 }] } },
  { id: "fixed", action: { type: "fixed_off_order", amount: 1000 } },
];
const codes = [{ code: "DISC10", promotionId: "disc10" }];

function measure(name: string, run: () => void, ms = 2000): void {
  for (let i = 0; i < 50; i++) run(); // warm up
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    run();
    n++;
  }
  const per = (performance.now() - start) / n;
  console.log(`${name}: ${per < 1 ? `${(per * 1000).toFixed(1)} µs` : `${per.toFixed(2)} ms`} per cart (${n} runs)`);
}

measure("typical cart (3 lines, 4 units), 5 demo promotions + DISC10", () => price(typical, DEMO_PROMOTIONS, codes));
measure("largest cart (100 lines × 10 units), 9 promotions + DISC10", () => price(largest, many, codes));
