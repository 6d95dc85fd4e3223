import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { enqueue, take } from "../../worker/src/ingest/inbox";
import { applyBatch, drainInbox } from "../../worker/src/ingest/process";
import { validateMessage } from "../../worker/src/ingest/validate";
import type { Message } from "../../worker/src/model/events";
import { countCalls } from "../../worker/src/lib/d1-budget";
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
/**
 * `db` where another invocation stores one more of `messageIds` just before each write (a batch
 * of more than two statements), one per write: the first write races the first id, and so on.
 */
function racing(db: D1Database, ...messageIds: string[]): D1Database {
  const left = [...messageIds];
  return new Proxy(db, {
    get(target, prop) {
      if (prop === "batch")
        return async (statements: D1PreparedStatement[]) => {
          // The read is one or two statements; the write is the rest of the chunk.
          const messageId = statements.length > 2 ? left.shift() : undefined;
          if (messageId)
            await target
              .prepare(
                `INSERT INTO events (site_id, message_id, type, event, timestamp, received_at, processed)
                 VALUES ('demo', ?, 'track', 'Product Viewed', ?, ?, 1)`,
              )
              .bind(messageId, Date.now(), Date.now())
              .run();
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

  it("should apply a batch without reading first, and read after all when an event was stored meanwhile", async () => {
    const shopper = uid("q");
    const batch = views(shopper, 4);
    // The first write assumes no event is stored yet; one is, so it fails whole, and the batch is
    // applied again the usual way, reading first: the three others, at once, and only once.
    expect(await request(racing(env.DB, batch[1]?.messageId ?? ""), batch)).toBe(true);
    expect(await viewsOf(shopper)).toBe(3);
  });

  it("should apply a returning shopper's batch in one D1 call, the identities checked in it", async () => {
    const shopper = uid("s");
    expect(await request(env.DB, views(shopper, 2))).toBe(true);
    const probe = countCalls(env.DB);
    const again = views(shopper, 3).map((m, i) => ({ ...m, messageId: `${shopper}-again-${i}` }));
    expect(await request(probe.db, again)).toBe(true);
    expect(probe.calls()).toBe(1);
    expect(await viewsOf(shopper)).toBe(5);
  });

  it("should apply to the contact that holds the identity now when another isolate merged it away", async () => {
    const shopper = uid("m");
    expect(await request(env.DB, views(shopper, 1))).toBe(true);
    // Another isolate (raw SQL here) moves the identity to a new contact and deletes the old one.
    const holder = async () =>
      (
        await env.DB.prepare(
          `SELECT contact_id FROM identities WHERE site_id = 'demo' AND kind = 'anonymous' AND value = ?`,
        )
          .bind(shopper)
          .first<{ contact_id: string }>()
      )?.contact_id;
    const before = await holder();
    const after = `${before}-merged`;
    await env.DB.batch([
      env.DB.prepare(
        `INSERT INTO contacts (site_id, id, first_seen, last_seen, traits)
         SELECT site_id, ?2, first_seen, last_seen, traits FROM contacts WHERE site_id = 'demo' AND id = ?1`,
      ).bind(before, after),
      env.DB.prepare(`UPDATE identities SET contact_id = ?2 WHERE site_id = 'demo' AND contact_id = ?1`).bind(
        before,
        after,
      ),
      env.DB.prepare(`UPDATE product_views SET contact_id = ?2 WHERE site_id = 'demo' AND contact_id = ?1`).bind(
        before,
        after,
      ),
      env.DB.prepare(`DELETE FROM contacts WHERE site_id = 'demo' AND id = ?`).bind(before),
    ]);
    const probe = countCalls(env.DB);
    const more = views(shopper, 2).map((m, i) => ({ ...m, messageId: `${shopper}-more-${i}` }));
    expect(await request(probe.db, more)).toBe(true);
    // The assumed write failed on its check (1), then the read (2) and the write (3).
    expect(probe.calls()).toBe(3);
    expect(await holder()).toBe(after);
    expect(await viewsOf(shopper)).toBe(3);
    const orphans = await env.DB.prepare(`SELECT count(*) AS n FROM contacts WHERE site_id = 'demo' AND id = ?`)
      .bind(before)
      .first<{ n: number }>();
    expect(orphans?.n).toBe(0);
  });

  it("should fail whole when events are stored meanwhile, and the inbox then applies the rest once", async () => {
    const shopper = uid("r");
    const batch = views(shopper, 4);
    const taken = [batch[1]?.messageId ?? "", batch[2]?.messageId ?? ""];
    // Another invocation stores an event before each of this request's writes: the one without a
    // read, then the one after its read.
    expect(await request(racing(env.DB, ...taken), batch)).toBe(false);
    expect(await viewsOf(shopper)).toBe(0); // nothing half-applied

    await drainInbox(env.DB, sites, Date.now());
    expect(await viewsOf(shopper)).toBe(2); // the raced events were the other invocation's to apply
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
