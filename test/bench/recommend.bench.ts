import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { build } from "esbuild";

/**
 * The SQL behind personal offers and lifecycle segments, on node:sqlite (the engine D1 runs) with
 * the real migrations: bought together and the best-seller per mail, the RFM refresh per site.
 * Synthetic shop: 500 products in 20 categories, orders of 1–4 lines over 300 days.
 * Run: npm run bench recommend, or node test/bench/recommend.bench.ts
 */
const root = join(import.meta.dirname, "../..");
const { outputFiles } = await build({
  stdin: {
    contents: `export { BEST_SELLER_SQL, BOUGHT_TOGETHER_SQL } from "./worker/src/campaigns/recommend";
      export { RFM_SQL } from "./worker/src/segments/rfm";`,
    resolveDir: root,
    loader: "ts",
  },
  bundle: true,
  platform: "node",
  format: "esm",
  write: false,
  logLevel: "warning",
});
const sql = (await import(
  `data:text/javascript;base64,${Buffer.from(outputFiles[0]?.text ?? "").toString("base64")}`
)) as { BEST_SELLER_SQL: string; BOUGHT_TOGETHER_SQL: string; RFM_SQL: string };

const DAY = 86400_000;
const now = Date.now();

function shop(customers: number, orders: number): DatabaseSync {
  const db = new DatabaseSync(":memory:");
  const dir = join(root, "worker/migrations");
  for (const f of readdirSync(dir).sort()) db.exec(readFileSync(join(dir, f), "utf8"));
  db.exec("BEGIN");
  const contact = db.prepare(
    `INSERT INTO contacts (site_id, id, first_seen, last_seen, orders_count, total_spent, last_order_at)
     VALUES ('s', ?, 0, 0, ?, ?, ?)`,
  );
  for (let i = 0; i < customers; i++) contact.run(`c${i}`, 1 + (i % 7), 1000 * (i % 997), now - (i % 400) * DAY);
  const product = db.prepare(
    `INSERT INTO products (site_id, product_id, name, price, currency, category, updated_at, merchant)
     VALUES ('s', ?, ?, 100, 'GBP', ?, 0, 1)`,
  );
  for (let p = 0; p < 500; p++) product.run(`p${p}`, `P${p}`, `cat${p % 20}`);
  const order = db.prepare(
    `INSERT INTO orders (site_id, order_id, contact_id, total, currency, placed_at, products) VALUES ('s', ?, ?, 100, 'GBP', ?, ?)`,
  );
  const item = db.prepare(
    `INSERT OR IGNORE INTO order_items (site_id, order_id, product_id, contact_id, quantity, placed_at) VALUES ('s', ?, ?, ?, 1, ?)`,
  );
  for (let o = 0; o < orders; o++) {
    const ids = Array.from({ length: 1 + (o % 4) }, (_, j) => `p${(o * 7 + j * 13) % 500}`);
    const at = now - (o % 300) * DAY;
    order.run(`o${o}`, `c${o % customers}`, at, JSON.stringify(ids.map((id) => ({ product_id: id, quantity: 1 }))));
    for (const id of ids) item.run(`o${o}`, id, `c${o % customers}`, at);
  }
  db.exec("COMMIT");
  return db;
}

function median(run: () => void, runs = 7): string {
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    run();
    t.push(performance.now() - start);
  }
  t.sort((a, b) => a - b);
  return `${(t[Math.floor(runs / 2)] ?? 0).toFixed(1)} ms`;
}

console.log(
  "| customers | orders | bought together (per mail) | best-seller, 90 days (per mail) | RFM refresh (per site) |",
);
console.log("|---|---|---|---|---|");
for (const [customers, orders] of [
  [10_000, 50_000],
  [100_000, 200_000],
] as const) {
  const db = shop(customers, orders);
  const together = db.prepare(sql.BOUGHT_TOGETHER_SQL);
  const best = db.prepare(sql.BEST_SELLER_SQL);
  const rfm = db.prepare(sql.RFM_SQL);
  console.log(
    `| ${customers} | ${orders} | ${median(() => together.all("s", now - 365 * DAY, "o5", "c5"))} | ${median(() =>
      best.all("s", now - 90 * DAY),
    )} | ${median(() => rfm.run("s"))} |`,
  );
}
