import { SELF } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../worker/src/lib/crypto";
import {
  advance,
  BASE,
  mailbox,
  messagesOf,
  post,
  product,
  SECRET,
  send,
  sendAsServer,
  shopperWithCart,
  uid,
} from "./helpers";

/**
 * Issue 13, item 9: erasure left rows that name the person — another contact's share event naming
 * them as recipient, consents with their address as subject, conversions of their orders — and
 * forgot that they had unsubscribed.
 */

const consent = { consent: true, consentText: "I agree to be contacted." };

async function everyTableText(): Promise<Map<string, string>> {
  const tables = await env.DB.prepare(
    `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' AND name NOT LIKE '\\_cf%' ESCAPE '\\'`,
  ).all<{ name: string }>();
  const out = new Map<string, string>();
  for (const { name } of tables.results)
    out.set(name, JSON.stringify((await env.DB.prepare(`SELECT * FROM ${name}`).all()).results));
  return out;
}

describe("erasure of a person others' rows name (item 9)", () => {
  it("should remove the share naming them, consents about their address and their conversions, and keep them unsubscribed", async () => {
    const email = `${uid("erased")}@example.com`;
    const anonymousId = await shopperWithCart(email);
    await advance(2 * 3600_000); // the cart reminder goes out…
    expect(await mailbox(email, "abandoned_cart")).toHaveLength(1);
    const orderId = uid("order");
    await sendAsServer([
      { type: "track", anonymousId, event: "Order Completed", properties: { order_id: orderId, total: 79 } },
    ]); // …and the order it led to is a conversion
    const conversion = await env.DB.prepare(`SELECT campaign FROM conversions WHERE site_id = 'demo' AND order_id = ?`)
      .bind(orderId)
      .first();
    expect(conversion).toEqual({ campaign: "abandoned_cart" });

    // A friend shares a product with them: the friend's event and consent name their address.
    const friend = uid("friend");
    const shared = await post("/v1/onsite/friend", {
      key: "pk_demo",
      anonymousId: friend,
      requestId: uid("r"),
      productId: "E7247",
      friendEmail: email,
      senderName: "Bob",
      ...consent,
    });
    expect(shared.status).toBe(200);
    // They unsubscribe from their browser.
    await send([{ type: "track", anonymousId, event: "Consent Updated", properties: { marketing: false } }]);

    const contactId = (
      await env.DB.prepare(`SELECT contact_id FROM identities WHERE kind = 'email' AND value = ?`)
        .bind(email)
        .first<{ contact_id: string }>()
    )?.contact_id;
    const erased = await SELF.fetch(`${BASE}/v1/admin/contacts/${contactId}`, { method: "DELETE", headers: SECRET });
    expect(erased.status).toBe(200);

    for (const [table, text] of await everyTableText())
      for (const trace of [email, orderId, anonymousId, contactId ?? "-"])
        expect(text.includes(trace), `${table}: ${trace}`).toBe(false);
    // The friend's own contact is still there: only what named the erased person went.
    const sharer = await env.DB.prepare(`SELECT count(*) AS n FROM identities WHERE value = ?`)
      .bind(friend)
      .first<{ n: number }>();
    expect(sharer?.n).toBe(1);
    const suppressed = await env.DB.prepare(
      `SELECT count(*) AS n FROM suppressions WHERE site_id = 'demo' AND hash = ?`,
    )
      .bind(await sha256Hex(email))
      .first<{ n: number }>();
    expect(suppressed?.n).toBe(1);

    // They come back in a new browser and leave a cart: no marketing to them again.
    const again = await shopperWithCart(email, [product("H4100")]);
    await advance(3 * 3600_000);
    expect(await mailbox(email, "abandoned_cart")).toHaveLength(0);
    expect((await messagesOf("abandoned_cart")).filter((m) => m.email === email)).toMatchObject([
      { status: "cancelled", reason: "unsubscribed (before an erasure)" },
    ]);
    expect(again).not.toBe(anonymousId);
  });

  it("should not suppress a person erased without having unsubscribed", async () => {
    const email = `${uid("erased")}@example.com`;
    await send([{ type: "identify", anonymousId: uid("a"), traits: { email } }]);
    const contactId = (
      await env.DB.prepare(`SELECT contact_id FROM identities WHERE kind = 'email' AND value = ?`)
        .bind(email)
        .first<{ contact_id: string }>()
    )?.contact_id;
    await SELF.fetch(`${BASE}/v1/admin/contacts/${contactId}`, { method: "DELETE", headers: SECRET });
    const row = await env.DB.prepare(`SELECT count(*) AS n FROM suppressions WHERE hash = ?`)
      .bind(await sha256Hex(email))
      .first<{ n: number }>();
    expect(row?.n).toBe(0);
  });
});
