import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { drainInBackground } from "../../worker/src/ingest/drainer";
import { CLAIM_TIMEOUT_MS, enqueue, take } from "../../worker/src/ingest/inbox";
import { validateMessage } from "../../worker/src/ingest/validate";
import type { Message } from "../../worker/src/ingest/validate";
import { siteById } from "../../worker/src/model/sites";
import { clock, post, product, uid } from "./helpers";

/** The default processing mode: batches stored by requests, applied by the isolate's drainer. */

const views = (anonymousId: string, n: number): Message[] =>
  Array.from({ length: n }, (_, i) => {
    const m = validateMessage(
      {
        type: "track",
        messageId: `${anonymousId}-${i}`,
        anonymousId,
        event: "Product Viewed",
        properties: product("P1"),
      },
      i,
      Date.now(),
      null,
    );
    if ("code" in m) throw new Error(m.message);
    return m;
  });

const viewsOf = async (anonymousId: string) =>
  env.DB.prepare(
    `SELECT coalesce(sum(v.views), 0) AS n FROM product_views v
     JOIN identities i ON i.site_id = v.site_id AND i.contact_id = v.contact_id
     WHERE i.kind = 'anonymous' AND i.value = ?`,
  )
    .bind(anonymousId)
    .first<{ n: number }>()
    .then((r) => r?.n ?? 0);

const inbox = async () =>
  (await env.DB.prepare(`SELECT count(*) AS n FROM inbox`).first<{ n: number }>())?.n ?? Number.NaN;

describe("background drain (group commit)", () => {
  beforeAll(clock); // the first request seeds the demo site
  it("should take the oldest batches up to the pass size, and a batch larger than it alone", async () => {
    const now = Date.now();
    const shoppers = [uid("c"), uid("c"), uid("c"), uid("c")];
    const ids = [];
    for (const [i, n] of [3, 3, 3, 10].entries())
      ids.push(await enqueue(env.DB, "demo", views(shoppers[i] ?? "", n), now));
    const first = await take(env.DB, now, 6);
    expect(first.rows.map((r) => r.id)).toEqual(ids.slice(0, 2));
    expect(first.fresh.get("demo")?.map((m) => m.anonymousId)).toEqual([
      ...Array(3).fill(shoppers[0]),
      ...Array(3).fill(shoppers[1]),
    ]);
    expect((await take(env.DB, now, 6)).rows.map((r) => r.id)).toEqual(ids.slice(2, 3));
    const last = await take(env.DB, now, 6);
    expect(last.rows.map((r) => r.id)).toEqual(ids.slice(3));
    expect(last.fresh.get("demo")).toHaveLength(10);
    expect((await take(env.DB, now, 6)).rows).toEqual([]);
    expect(await inbox()).toBe(0);
  });

  it("should not take a batch its request is applying, until that claim goes stale", async () => {
    const now = Date.now();
    const id = await enqueue(env.DB, "demo", views(uid("f"), 2), now, true);
    expect((await take(env.DB, now + 1000)).rows).toEqual([]);
    expect((await take(env.DB, now + CLAIM_TIMEOUT_MS + 1)).rows.map((r) => r.id)).toEqual([id]);
  });

  it("should apply every waiting batch exactly once when requests overlap, in a shared pass", async () => {
    const shoppers = [uid("a"), uid("b"), uid("c")];
    for (const s of shoppers) await enqueue(env.DB, "demo", views(s, 4), Date.now());
    // The same batch resent while the first copy waits: its events are stored and counted once.
    await enqueue(env.DB, "demo", views(shoppers[0] ?? "", 4), Date.now());
    const sites = (id: string) => siteById(env.DB, id);
    const clock = async () => Date.now();

    // Three requests' waitUntil at once: one drains, the others join it.
    await Promise.all([
      drainInBackground(env.DB, sites, clock),
      drainInBackground(env.DB, sites, clock),
      drainInBackground(env.DB, sites, clock),
    ]);
    expect(await inbox()).toBe(0);
    expect(await Promise.all(shoppers.map(viewsOf))).toEqual([4, 4, 4]);
    const events = await env.DB.prepare(
      `SELECT count(*) AS n, sum(processed) AS done FROM events WHERE anonymous_id IN (?, ?, ?)`,
    )
      .bind(...shoppers)
      .first<{ n: number; done: number }>();
    expect(events).toEqual({ n: 12, done: 12 });
  });

  it("should apply a pass larger than one transaction's chunk exactly", async () => {
    const shoppers = [uid("g"), uid("h"), uid("i")];
    const t0 = Date.now() - 60_000;
    // 1 200 events, interleaved: each shopper views P1 390 times and adds it 10 times.
    const batch = Array.from({ length: 1200 }, (_, i) => {
      const who = shoppers[i % 3];
      const added = Math.floor(i / 3) % 40 === 39;
      return {
        type: "track",
        messageId: `${who}-${i}`,
        anonymousId: who,
        event: added ? "Product Added" : "Product Viewed",
        properties: product("P1"),
        timestamp: new Date(t0 + i).toISOString(),
      };
    });
    const res = await post("/v1/batch", { writeKey: "pk_demo", batch }, { "cf-connecting-ip": "10.8.0.1" });
    expect(await res.json()).toMatchObject({ accepted: 1200 });
    expect(await Promise.all(shoppers.map(viewsOf))).toEqual([390, 390, 390]);
    const carts = await env.DB.prepare(
      `SELECT i.value AS who, c.quantity FROM cart_items c
       JOIN identities i ON i.site_id = c.site_id AND i.contact_id = c.contact_id AND i.kind = 'anonymous'
       WHERE i.value IN (?, ?, ?) ORDER BY 1`,
    )
      .bind(...shoppers)
      .all();
    expect(carts.results.map((r) => r.quantity)).toEqual([10, 10, 10]);
  });

  it("should pick up a batch stored while a pass is running", async () => {
    const first = uid("d");
    const late = uid("e");
    await enqueue(env.DB, "demo", views(first, 2), Date.now());
    const sites = (id: string) => siteById(env.DB, id);
    let stored = false;
    // The late batch arrives during the pass (while the drainer waits on its first site lookup).
    const slowSites = async (id: string) => {
      if (!stored) {
        stored = true;
        await enqueue(env.DB, "demo", views(late, 2), Date.now());
        await drainInBackground(env.DB, sites, async () => Date.now()); // the late request's waitUntil
      }
      return sites(id);
    };
    await drainInBackground(env.DB, slowSites, async () => Date.now());
    expect([await viewsOf(first), await viewsOf(late)]).toEqual([2, 2]);
    expect(await inbox()).toBe(0);
  });
});
