import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { post, product, uid } from "./helpers";

/**
 * Ingest folds a batch: new shoppers, processed marks and every campaign's journeys are written
 * set-based per chunk, not event by event. This checks the folding: a shopper whose events arrive
 * in one batch ends up with the same profile, cart and messages to be sent as one whose same events
 * arrive one request at a time.
 *
 * Journeys are checked against the state the whole chunk leaves (as they were before folding), so
 * two things may differ by design and are left out: cancelled rows (a journey that started and
 * ended within one batch may leave none), and journeys of campaigns with an audience, which is
 * evaluated at the chunk's end — a product viewed while the cart was open, then the cart emptied
 * in the same batch, starts browse abandonment; event by event it would not.
 */

type Action =
  | { kind: "view" | "add" | "remove"; product: string }
  | { kind: "order"; total: number }
  | { kind: "signup" }
  | { kind: "share"; friend: number };

const action: fc.Arbitrary<Action> = fc.oneof(
  fc.record({ kind: fc.constantFrom("view", "add", "remove"), product: fc.constantFrom("A", "B", "C") }),
  fc.record({ kind: fc.constant("order"), total: fc.constantFrom(20, 600) }),
  fc.record({ kind: fc.constant("signup") }),
  fc.record({ kind: fc.constant("share"), friend: fc.integer({ min: 1, max: 2 }) }),
) as fc.Arbitrary<Action>;

/** Two shoppers, one per tag, interleaved in one chunk. */
type Step = { who: 0 | 1; action: Action };
const step: fc.Arbitrary<Step> = fc.record({ who: fc.constantFrom(0 as const, 1 as const), action });

/** Shoppers `tags` identify, then take `steps` one second apart. */
function events(tags: [string, string], steps: Step[], t0: number) {
  const at = (i: number) => new Date(t0 + i * 1000).toISOString();
  const identify = (tag: string) => ({
    type: "identify",
    anonymousId: `${tag}-anon`,
    traits: { email: `${tag}@example.com`, phone: "+447700900123" },
    timestamp: at(0),
  });
  return [
    ...tags.map(identify),
    ...steps.map(({ who, action: a }, i) => {
      const tag = tags[who];
      const base = { type: "track", anonymousId: `${tag}-anon`, timestamp: at(i + 1) };
      switch (a.kind) {
        case "view":
          return { ...base, event: "Product Viewed", properties: product(a.product) };
        case "add":
          return { ...base, event: "Product Added", properties: product(a.product) };
        case "remove":
          return { ...base, event: "Product Removed", properties: { product_id: a.product } };
        case "order":
          return {
            ...base,
            event: "Order Completed",
            properties: { order_id: `${tag}-o${i}`, total: a.total, currency: "GBP", products: [product("A")] },
          };
        case "signup":
          return { ...base, event: "Newsletter Subscribed" };
        default:
          return {
            ...base,
            event: "Product Shared",
            properties: {
              ...product("A"),
              share_via: "email",
              recipient_email: `friend${a.friend}-${tag}@example.com`,
            },
          };
      }
    }),
  ].map((m) => ({ ...m, messageId: crypto.randomUUID() }));
}

async function sendAs(ip: string, batch: unknown[]) {
  const res = await post("/v1/batch", { writeKey: "pk_demo", batch }, { "cf-connecting-ip": ip });
  expect(res.status).toBe(200);
}

/** Everything stored about the shopper and the friends they referred, with the tag taken out. */
async function snapshot(tag: string) {
  const like = `%${tag}@example.com`;
  const messages = await env.DB.prepare(
    `SELECT m.campaign, m.step, m.status, m.reason, c.email AS who,
       json_extract(m.data, '$.product_id') AS product, json_extract(m.data, '$.event') AS event
     FROM messages m JOIN contacts c ON c.site_id = m.site_id AND c.id = m.contact_id WHERE c.email LIKE ?`,
  )
    .bind(like)
    .all();
  const profile = await env.DB.prepare(
    `SELECT c.email, c.orders_count, c.total_spent,
       (SELECT json_group_array(product_id || 'x' || quantity) FROM
         (SELECT product_id, quantity FROM cart_items i WHERE i.site_id = c.site_id AND i.contact_id = c.id ORDER BY 1)) AS cart,
       (SELECT json_group_array(product_id || 'x' || views) FROM
         (SELECT product_id, views FROM product_views v WHERE v.site_id = c.site_id AND v.contact_id = c.id ORDER BY 1)) AS viewed,
       c.last_seen - c.first_seen AS seen_for,
       (SELECT count(*) FROM identities i WHERE i.site_id = c.site_id AND i.contact_id = c.id) AS identities,
       (SELECT count(*) FROM events e WHERE e.site_id = c.site_id AND e.contact_id = c.id AND e.processed = 1) AS events
     FROM contacts c WHERE c.email LIKE ? ORDER BY c.email`,
  )
    .bind(like)
    .all();
  const clean = (rows: Record<string, unknown>[]) => rows.map((r) => JSON.stringify(r).replaceAll(tag, "T")).sort();
  return {
    messages: clean(messages.results.filter((m) => m.status !== "cancelled" && m.campaign !== "browse_abandonment")),
    profile: clean(profile.results),
  };
}

let runs = 0;

describe("batched processing", () => {
  it("should leave the same profile, cart and journeys whether events come in one batch or one by one", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 16 }), async (steps) => {
        const t0 = Date.now() - 60_000;
        const client = `10.9.${++runs % 250}`; // its own rate-limit bucket per run
        const batched: [string, string] = [uid("fold-b"), uid("fold-b")];
        const single: [string, string] = [uid("fold-s"), uid("fold-s")];
        await sendAs(`${client}.1`, events(batched, steps, t0));
        for (const m of events(single, steps, t0)) await sendAs(`${client}.2`, [m]);
        for (const who of [0, 1] as const) {
          const [a, b] = [await snapshot(batched[who]), await snapshot(single[who])];
          expect(a.profile.length).toBeGreaterThan(0);
          expect(a).toEqual(b);
        }
      }),
      { numRuns: 15 },
    );
  }, 60_000);
});
