import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { enqueue, take } from "../../worker/src/ingest/inbox";
import { applyBatch, drainInbox } from "../../worker/src/ingest/process";
import { validateMessage } from "../../worker/src/ingest/validate";
import type { Message } from "../../worker/src/model/events";
import { siteById } from "../../worker/src/model/sites";
import { clock, post, product, uid } from "./helpers";

/** How batches are applied: by their requests; failing that, from the inbox by the sweep. */

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
      "browser",
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

describe("the inbox", () => {
  beforeAll(clock); // the first request seeds the demo site
  it("should take the oldest batches up to the pass size, and a batch larger than it alone", async () => {
    const now = Date.now();
    const shoppers = [uid("c"), uid("c"), uid("c"), uid("c")];
    const ids = [];
    for (const [i, n] of [3, 3, 3, 10].entries())
      ids.push(await enqueue(env.DB, "demo", views(shoppers[i] ?? "", n), now));
    const first = await take(env.DB, 6);
    expect(first.rows.map((r) => r.id)).toEqual(ids.slice(0, 2));
    expect(first.fresh.get("demo")?.map((m) => m.anonymousId)).toEqual([
      ...Array(3).fill(shoppers[0]),
      ...Array(3).fill(shoppers[1]),
    ]);
    expect((await take(env.DB, 6)).rows.map((r) => r.id)).toEqual(ids.slice(2, 3));
    const last = await take(env.DB, 6);
    expect(last.rows.map((r) => r.id)).toEqual(ids.slice(3));
    expect(last.fresh.get("demo")).toHaveLength(10);
    expect((await take(env.DB, 6)).rows).toEqual([]);
    expect(await inbox()).toBe(0);
  });
});

/** A D1 binding on which another invocation stores `messageId` between applyBatch's read and its write. */
function racing(db: D1Database, messageId: string): D1Database {
  let raced = false;
  return new Proxy(db, {
    get(target, prop) {
      if (prop === "batch")
        return async (statements: D1PreparedStatement[]) => {
          // The read is one or two statements; the write is the rest of the chunk.
          if (!raced && statements.length > 2) {
            raced = true;
            await target
              .prepare(
                `INSERT INTO events (site_id, message_id, type, event, timestamp, received_at, processed)
                 VALUES ('demo', ?, 'track', 'Product Viewed', ?, ?, 1)`,
              )
              .bind(messageId, Date.now(), Date.now())
              .run();
          }
          return target.batch(statements);
        };
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

describe("applying a request's batch", () => {
  const sites = (id: string) => siteById(env.DB, id);
  const demo = async () => {
    const site = await sites("demo");
    if (!site) throw new Error("no demo site");
    return site;
  };
  /** What the route does: apply, or failing that store in the inbox. */
  const request = async (db: D1Database, batch: Message[]) => {
    const site = await demo();
    if (await applyBatch(db, site, batch, Date.now())) return true;
    await enqueue(env.DB, "demo", batch, Date.now());
    return false;
  };

  it("should store and apply concurrent batches exactly once, a resent batch included", async () => {
    const shoppers = [uid("a"), uid("b"), uid("c")];
    // Four requests at once, the fourth resending the first's batch: both may read before either
    // writes, and the one that writes second falls back to the inbox.
    const applied = await Promise.all([
      ...shoppers.map((s) => request(env.DB, views(s, 4))),
      request(env.DB, views(shoppers[0] ?? "", 4)),
    ]);
    expect(applied.filter((a) => a).length).toBeGreaterThanOrEqual(3);
    await drainInbox(env.DB, sites, Date.now());
    expect(await inbox()).toBe(0);
    expect(await Promise.all(shoppers.map(viewsOf))).toEqual([4, 4, 4]);
    const events = await env.DB.prepare(
      `SELECT count(*) AS n, sum(processed) AS done, count(DISTINCT contact_id) AS contacts
       FROM events WHERE anonymous_id IN (?, ?, ?)`,
    )
      .bind(...shoppers)
      .first<{ n: number; done: number; contacts: number }>();
    expect(events).toEqual({ n: 12, done: 12, contacts: 3 });
  });

  it("should fail whole when an event is stored meanwhile, and the inbox then applies the rest once", async () => {
    const shopper = uid("r");
    const batch = views(shopper, 4);
    const taken = batch[1]?.messageId ?? "";
    // Another invocation stores one of the events between this request's read and its write.
    expect(await request(racing(env.DB, taken), batch)).toBe(false);
    expect(await viewsOf(shopper)).toBe(0); // nothing half-applied

    await drainInbox(env.DB, sites, Date.now());
    expect(await viewsOf(shopper)).toBe(3); // the raced event was the other invocation's to apply
    const stored = await env.DB.prepare(`SELECT count(*) AS n FROM events WHERE message_id LIKE ?`)
      .bind(`${shopper}-%`)
      .first<{ n: number }>();
    expect(stored?.n).toBe(4);
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
});
