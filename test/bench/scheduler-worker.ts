import { parseDefinition } from "../../worker/src/campaigns/definition";
import type { Env } from "../../worker/src/env";
import { sweep } from "../../worker/src/jobs/sweep";
import { compileRule, parseRule } from "../../worker/src/segments/rules";

/**
 * The Worker side of the scheduler benchmark, run in workerd by scheduler.bench.ts: seeds a database
 * of a given size with SQL (recursive CTEs, so a million rows take seconds) and times the real
 * sweep and the real segment compiler inside the runtime, where D1 calls cost what they cost.
 */

const NOW = Date.UTC(2027, 0, 15, 12);
const DAY = 86400_000;

const SEQ = (n: number) =>
  `WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ${Math.floor(n)})`;

async function migrate(db: D1Database, sql: string[]) {
  for (const file of sql) {
    const statements = file
      .split(/;\s*$/m)
      .map((s) => s.replace(/^\s*--.*$/gm, "").trim())
      .filter(Boolean);
    await db.batch(statements.map((s) => db.prepare(s)));
  }
}

async function seedMessages(db: D1Database, total: number, due: number) {
  const def = parseDefinition({
    id: "bench",
    trigger: { type: "event", events: ["Bench"] },
    steps: [{ delay: 0, template: "welcome" }],
  });
  await db.batch([
    db.prepare(
      `INSERT INTO sites (id, name, public_key, secret_hash, url, created_at) VALUES ('b', 'Bench', 'pk_b', 'h_b', 'https://b.example', 0)`,
    ),
    db
      .prepare(`INSERT INTO campaigns (site_id, id, definition, updated_at) VALUES ('b', 'bench', ?, 0)`)
      .bind(JSON.stringify(def)),
    db.prepare(
      `${SEQ(due)} INSERT INTO contacts (site_id, id, email, first_seen, last_seen) SELECT 'b', 'c' || i, 'c' || i || '@example.com', 0, 0 FROM seq`,
    ),
  ]);
  // Due rows first, then the rest scheduled over the next 30 days.
  await db
    .prepare(
      `${SEQ(total)} INSERT INTO messages (site_id, contact_id, campaign, step, channel, dedupe_key, due_at, created_at, data)
       SELECT 'b', 'c' || (1 + i % CAST(?1 AS INTEGER)), 'bench', 1, 'email', 'k' || i,
              CASE WHEN i <= ?1 THEN ?2 - i ELSE ?2 + 60000 + (i * 2591) % (30 * ${DAY}) END, 0, '{}' FROM seq`,
    )
    .bind(due, NOW)
    .run();
}

async function seedContacts(db: D1Database, n: number) {
  await db.batch([
    db
      .prepare(
        `${SEQ(n)} INSERT INTO contacts (site_id, id, email, traits, first_seen, last_seen, orders_count, total_spent)
       SELECT 's', 'c' || i, 'c' || i || '@example.com',
              json_object('gender', CASE i % 2 WHEN 0 THEN 'female' ELSE 'male' END, 'locale', CASE i % 3 WHEN 0 THEN 'fr' WHEN 1 THEN 'en' ELSE 'ru' END),
              ?1 - 900 * ${DAY}, ?1 - (i % 400) * ${DAY}, CASE WHEN i % 10 = 0 THEN 1 ELSE 0 END, CASE WHEN i % 10 = 0 THEN (i % 1000) * 100 ELSE 0 END
       FROM seq`,
      )
      .bind(NOW),
    // One contact in ten has an order, at various ages.
    db
      .prepare(
        `${SEQ(n / 10)} INSERT INTO orders (site_id, order_id, contact_id, total, currency, placed_at)
       SELECT 's', 'o' || i, 'c' || (i * 10), ((i * 10) % 1000) * 100, 'GBP', ?1 - (i % 500) * ${DAY} FROM seq`,
      )
      .bind(NOW),
  ]);
}

export default {
  async fetch(req: Request, env: Env): Promise<Response> {
    const url = new URL(req.url);
    const db = env.DB;
    const n = Number(url.searchParams.get("n") ?? 0);
    if (url.pathname === "/migrate") {
      await migrate(db, (await req.json()) as string[]);
      return Response.json({ ok: true });
    }
    if (url.pathname === "/seed-messages") {
      await seedMessages(db, n, Number(url.searchParams.get("due")));
      return Response.json({ ok: true });
    }
    if (url.pathname === "/rearm") {
      // The same 1 000 due again, for another timed run on the same database.
      await db.batch([
        db.prepare(`UPDATE messages SET status = 'pending', attempts = 0, sent_at = NULL WHERE due_at <= ?`).bind(NOW),
        db.prepare(`DELETE FROM outbox`),
      ]);
      return Response.json({ ok: true });
    }
    if (url.pathname === "/sweep") {
      // Every due message, as many sweeps as it takes (each claims up to 100).
      const t0 = performance.now();
      let sent = 0;
      let runs = 0;
      for (;;) {
        const r = await sweep(env, NOW, "https://b.example");
        runs++;
        sent += r.sent;
        if (r.claimed === 0) break;
      }
      // In workerd the clock only moves across I/O; the D1 calls above are I/O, so this is real time.
      const { results } = await db
        .prepare(`SELECT status, reason, count(*) AS n FROM messages WHERE due_at <= ? GROUP BY 1, 2`)
        .bind(NOW)
        .all();
      return Response.json({ ms: performance.now() - t0, sent, runs, outcomes: results });
    }
    if (url.pathname === "/send") {
      // One sweep, as one cron invocation runs it (time and D1-call budgets as deployed).
      const t0 = performance.now();
      const r = await sweep(env, NOW, "https://b.example");
      return Response.json({ ms: performance.now() - t0, ...r });
    }
    if (url.pathname === "/status") {
      const { results } = await db
        .prepare(`SELECT status, count(*) AS n FROM messages GROUP BY 1`)
        .all<{ status: string; n: number }>();
      return Response.json(Object.fromEntries(results.map((r) => [r.status, r.n])));
    }
    if (url.pathname === "/seed-contacts") {
      await seedContacts(db, n);
      return Response.json({ ok: true });
    }
    if (url.pathname === "/count") {
      const t0 = Date.now();
      const { sql, params } = compileRule(parseRule(await req.json()), NOW);
      const row = await db
        .prepare(`SELECT count(*) AS n FROM contacts c WHERE c.site_id = 's' AND ${sql}`)
        .bind(...params)
        .first<{ n: number }>();
      return Response.json({ ms: Date.now() - t0, count: row?.n ?? 0 });
    }
    return new Response("not found", { status: 404 });
  },
};
