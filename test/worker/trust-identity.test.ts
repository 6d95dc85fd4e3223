import { SELF } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { hmacHex } from "../../worker/src/lib/crypto";
import { normaliseEmail } from "../../worker/src/model/contacts";
import { createSite } from "../../worker/src/model/sites";
import type { NewSite } from "../../worker/src/model/sites";
import { DEMO_CONFIG } from "../../worker/src/onsite/schema";
import { advance, BASE, freshSite, mailbox, post, product, send, sendAsServer, uid } from "./helpers";

/**
 * Issue 13, items 3–5: identity claims from the browser (public key) and the widget endpoints.
 * Each attack is performed as the issue describes it and shown failing; SECURITY.md has the rule.
 */

interface ContactRow {
  id: string;
  email: string | null;
  phone: string | null;
  name: string | null;
  user_id: string | null;
}

/** The contact an identity of `siteId` points at, or null. */
async function contactBy(kind: string, value: string, siteId = "demo"): Promise<ContactRow | null> {
  return env.DB.prepare(
    `SELECT c.id, c.email, c.phone, c.name, c.user_id FROM identities i
     JOIN contacts c ON c.site_id = i.site_id AND c.id = i.contact_id
     WHERE i.site_id = ? AND i.kind = ? AND i.value = ?`,
  )
    .bind(siteId, kind, value)
    .first<ContactRow>();
}

const identitiesOf = async (contactId: string) =>
  (
    await env.DB.prepare(`SELECT kind, value FROM identities WHERE contact_id = ? ORDER BY kind, value`)
      .bind(contactId)
      .all<{ kind: string; value: string }>()
  ).results;

/** A fresh site that verifies identities, with the demo's widgets configured. */
async function verifyingSite(extra: Partial<NewSite> = {}) {
  const { id, ...keys } = await freshSite({ identitySecret: "iv_secret", ...extra });
  const put = await SELF.fetch(`${BASE}/v1/admin/onsite`, {
    method: "PUT",
    headers: { "content-type": "application/json", authorization: `Bearer ${keys.secretKey}` },
    body: JSON.stringify({ config: DEMO_CONFIG }),
  });
  expect(put.status).toBe(200);
  const batch = async (key: string, messages: Record<string, unknown>[]) => {
    const res = await post("/v1/batch", {
      writeKey: key,
      batch: messages.map((m) => ({ messageId: crypto.randomUUID(), ...m })),
    });
    expect(res.status).toBe(200);
    return res.json<{ accepted: number; errors: { code: string }[] }>();
  };
  return {
    id,
    ...keys,
    browser: (messages: Record<string, unknown>[]) => batch(keys.publicKey, messages),
    server: (messages: Record<string, unknown>[]) => batch(keys.secretKey, messages),
  };
}

const consent = { consent: true, consentText: "I agree to be contacted." };

describe("a stranger's browser claiming a known shopper (item 3)", () => {
  it("should not let identify with her email, then the stranger's own email and phone, take over her profile or her mail", async () => {
    const victim = uid("victim");
    const email = `${victim}@example.com`;
    // She shops in her own browser: signs in, fills her cart, is offered an exit-intent code.
    await send([{ type: "identify", anonymousId: victim, traits: { email, name: "Ada", phone: "+447700900001" } }]);
    await send([{ type: "track", anonymousId: victim, event: "Product Added", properties: product("E7247") }]);
    const hers = await post("/v1/onsite/coupon", {
      key: "pk_demo",
      anonymousId: victim,
      requestId: uid("r"),
      widget: "exit-coupon",
    });
    const herCode = (await hers.json<{ code: string }>()).code;
    const before = await contactBy("email", email);

    // The stranger, with the public key alone: her email, then his own email and phone.
    const stranger = uid("stranger");
    const his = `${stranger}@evil.example`;
    await send([{ type: "identify", anonymousId: stranger, traits: { email } }]);
    await send([{ type: "identify", anonymousId: stranger, traits: { email: his, phone: "+447700900666" } }]);
    await send([{ type: "track", anonymousId: stranger, event: "Product Viewed", properties: product("E7247") }]);

    // Her profile is hers: same email, phone, name; the stranger's browser is not linked to her.
    const after = await contactBy("email", email);
    expect(after).toEqual(before);
    expect(after).toMatchObject({ email, phone: "+447700900001", name: "Ada" });
    expect((await identitiesOf(after?.id ?? "")).map((i) => i.value)).toEqual([victim, email].sort());
    const theirs = await contactBy("anonymous", stranger);
    expect(theirs?.id).not.toBe(after?.id);
    expect(theirs).toMatchObject({ email: his, phone: "+447700900666" });
    // The refused claim is not kept on the stranger's event either: her address is not on his rows.
    const stored = await env.DB.prepare(`SELECT count(*) AS n FROM events WHERE anonymous_id = ? AND traits LIKE ?`)
      .bind(stranger, `%${email}%`)
      .first<{ n: number }>();
    expect(stored?.n).toBe(0);

    // Her exit-intent code is not handed to his browser.
    const asked = await post("/v1/onsite/coupon", {
      key: "pk_demo",
      anonymousId: stranger,
      requestId: uid("r"),
      widget: "exit-coupon",
    });
    expect((await asked.json<{ code: string }>()).code).not.toBe(herCode);

    // Her abandoned-cart reminder (name, cart, restore link) goes to her, nothing of hers to him.
    await advance(2 * 3600_000);
    expect(await mailbox(email, "abandoned_cart")).toHaveLength(1);
    expect(await mailbox(his)).toHaveLength(0);
  });

  it("should not change a known contact's name or phone from her own browser id sent by someone else", async () => {
    const victim = uid("victim");
    const email = `${victim}@example.com`;
    await send([{ type: "identify", anonymousId: victim, traits: { email, name: "Ada", phone: "+447700900002" } }]);
    // Anyone who learns her anonymous id can send as that browser: still no change to who she is.
    await send([
      { type: "identify", anonymousId: victim, traits: { email: `${uid("x")}@evil.example`, name: "Mallory" } },
      {
        type: "track",
        anonymousId: victim,
        event: "Product Viewed",
        properties: product("E7247"),
        traits: { phone: "+1" },
      },
      { type: "identify", anonymousId: victim, userId: uid("evil-user") },
    ]);
    expect(await contactBy("email", email)).toMatchObject({
      email,
      name: "Ada",
      phone: "+447700900002",
      user_id: null,
    });
  });

  it("should still let a new browser become known, and the merchant's server link a device to a known shopper", async () => {
    const email = `${uid("new")}@example.com`;
    const laptop = uid("laptop");
    await send([{ type: "identify", anonymousId: laptop, traits: { email, name: "Grace", phone: "+447700900003" } }]);
    const known = await contactBy("email", email);
    expect(known).toMatchObject({ email, name: "Grace", phone: "+447700900003" });

    // A second device: its own claim of her email is refused…
    const phone = uid("phone");
    await send([{ type: "identify", anonymousId: phone, traits: { email } }]);
    expect((await contactBy("anonymous", phone))?.id).not.toBe(known?.id);
    // …and the store's server, which saw her sign in, links it (secret key: SECURITY.md).
    await sendAsServer([{ type: "identify", anonymousId: phone, traits: { email } }]);
    expect((await contactBy("anonymous", phone))?.id).toBe(known?.id);
  });
});

describe("verification on every path (item 4)", () => {
  it("should not let the newsletter widget link a stranger's browser to a customer, nor a track with traits change her", async () => {
    const site = await verifyingSite();
    const email = `${uid("customer")}@example.com`;
    const userId = uid("user");
    await site.server([
      { type: "identify", anonymousId: uid("her"), userId, traits: { email, name: "Ada", phone: "+447700900004" } },
    ]);
    const before = await contactBy("email", email, site.id);

    // /v1/identify refuses the unsigned email…
    const refused = await post("/v1/identify", {
      writeKey: site.publicKey,
      messageId: crypto.randomUUID(),
      anonymousId: uid("s"),
      traits: { email },
    });
    expect(refused.status).toBe(400);
    // …and the newsletter widget, which needs no hash, does not link or change her either.
    const stranger = uid("stranger");
    const res = await post("/v1/onsite/newsletter", {
      key: site.publicKey,
      anonymousId: stranger,
      requestId: uid("r"),
      email,
      ...consent,
    });
    expect(res.status).toBe(200);
    await site.browser([
      {
        type: "track",
        anonymousId: stranger,
        event: "Product Viewed",
        properties: product("E7247"),
        traits: { phone: "+447700900666", name: "Mallory" },
      },
    ]);
    expect(await contactBy("email", email, site.id)).toEqual(before);
    expect((await contactBy("anonymous", stranger, site.id))?.id).not.toBe(before?.id);
  });

  it("should answer the newsletter endpoint 404 on a site with no newsletter widget", async () => {
    const id = uid("bare");
    await createSite(
      env,
      { id, name: id, url: "https://shop.example", publicKey: `pk_${id}`, secretKey: `sk_${id}` },
      0,
    );
    const res = await post("/v1/onsite/newsletter", {
      key: `pk_${id}`,
      anonymousId: uid("a"),
      requestId: uid("r"),
      email: `${uid("x")}@example.com`,
      ...consent,
    });
    expect(res.status).toBe(404);
  });
});

describe("the hash covers one value (item 5)", () => {
  it("should not let a valid hash of one's own user id carry someone else's email onto the account", async () => {
    const site = await verifyingSite();
    const email = `${uid("emailonly")}@example.com`;
    // An email-only customer (a guest checkout the store reported).
    await site.server([{ type: "identify", anonymousId: uid("guest"), traits: { email, name: "Ada" } }]);
    const before = await contactBy("email", email, site.id);

    // A real account, with a valid hash of its own user id, sends her email as a trait.
    const attacker = uid("acct");
    const browser = uid("b");
    const sent = await site.browser([
      {
        type: "identify",
        anonymousId: browser,
        userId: attacker,
        traits: { email },
        context: { nudge: { userHash: await hmacHex("iv_secret", attacker) } },
      },
    ]);
    expect(sent.accepted).toBe(1);
    expect(await contactBy("email", email, site.id)).toEqual(before);
    const account = await contactBy("user", attacker, site.id);
    expect(account?.id).not.toBe(before?.id);
    expect(account?.email).toBeNull();

    // A hash over the email itself is the owner's proof: that browser joins her.
    const hers = uid("hers");
    await site.browser([
      {
        type: "identify",
        anonymousId: hers,
        traits: { email },
        context: { nudge: { userHash: await hmacHex("iv_secret", email) } },
      },
    ]);
    expect((await contactBy("anonymous", hers, site.id))?.id).toBe(before?.id);
  });
});

describe("addresses that name someone else inside them", () => {
  it("should take only bare addresses, so a display name or a list cannot carry a victim's address past her suppression", async () => {
    for (const sneaky of [
      "x<victim@example.com>",
      "Victim <victim@example.com>",
      "a@b.test, victim@example.com",
      "a@b.test;victim@example.com",
      '"victim@example.com"@evil.test',
      "victim@[127.0.0.1]",
      "(comment)victim@example.com",
    ])
      expect(normaliseEmail(sneaky), sneaky).toBeNull();
    expect(normaliseEmail(" Ada.Lovelace+shop@Example.COM ")).toBe("ada.lovelace+shop@example.com");
    expect(normaliseEmail("o'brien@example.ie")).toBe("o'brien@example.ie");

    const anonymousId = uid("sneaky");
    await send([{ type: "identify", anonymousId, traits: { email: "x<victim@example.com>" } }]);
    const row = await env.DB.prepare(
      `SELECT c.email FROM contacts c JOIN identities i ON i.site_id = c.site_id AND i.contact_id = c.id
       WHERE i.site_id = 'demo' AND i.kind = 'anonymous' AND i.value = ?`,
    )
      .bind(anonymousId)
      .first<{ email: string | null }>();
    expect(row?.email ?? null).toBeNull();
  });
});
