import { SELF } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { advance, BASE, post, putCampaign, SECRET, send, uid } from "./helpers";

const ORIGIN = BASE;

async function signIn(key = "sk_demo") {
  return SELF.fetch(`${BASE}/v1/admin/session`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: ORIGIN },
    body: JSON.stringify({ key }),
  });
}

const cookieOf = (res: Response) => (res.headers.get("set-cookie") ?? "").split(";")[0] ?? "";

describe("dashboard", () => {
  it("should serve the page at /admin with a strict content security policy", async () => {
    const res = await SELF.fetch(`${BASE}/admin`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/text\/html/);
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    const html = await res.text();
    expect(html).toContain('<script type="module" src="/admin/app.js">');
    expect(html).not.toMatch(/<script>|style=/);
  });

  it("should exchange the secret key for an HttpOnly SameSite=Strict session stored hashed", async () => {
    expect((await signIn("sk_wrong")).status).toBe(401);
    const res = await signIn();
    expect(res.status).toBe(201);
    const setCookie = res.headers.get("set-cookie") ?? "";
    expect(setCookie).toMatch(/^nudge_admin=[A-Za-z0-9_-]{43};/);
    expect(setCookie).toContain("HttpOnly");
    expect(setCookie).toContain("SameSite=Strict");
    expect(setCookie).toContain("Max-Age=43200");
    // Development on plain http (the demo at http://127.0.0.1): no Secure, or the browser drops it.
    expect(setCookie).not.toContain("Secure");
    const token = cookieOf(res).split("=")[1] ?? "";
    const stored = await env.DB.prepare(`SELECT token_hash, expires_at - created_at AS life FROM admin_sessions`).all<{
      token_hash: string;
      life: number;
    }>();
    expect(stored.results.map((r) => r.token_hash)).not.toContain(token);
    expect(stored.results.every((r) => r.life === 12 * 3600_000)).toBe(true);
  });

  it("should accept the cookie for reads, and for changes only from its own origin", async () => {
    const cookie = cookieOf(await signIn());
    const read = await SELF.fetch(`${BASE}/v1/admin/campaigns`, { headers: { cookie } });
    expect(read.status).toBe(200);
    const who = await SELF.fetch(`${BASE}/v1/admin/session`, { headers: { cookie } });
    expect(await who.json()).toMatchObject({ site: { id: "demo" } });
    const change = (origin?: string) =>
      SELF.fetch(`${BASE}/v1/admin/callbacks/none`, {
        method: "PATCH",
        headers: { cookie, "content-type": "application/json", ...(origin ? { origin } : {}) },
        body: JSON.stringify({ status: "done" }),
      });
    expect((await change()).status).toBe(403);
    expect((await change("https://evil.example")).status).toBe(403);
    // Same origin: past the CSRF check (then 404: there is no such callback).
    expect((await change(ORIGIN)).status).toBe(404);
    // Signing in from another origin is refused too (login CSRF).
    const cross = await SELF.fetch(`${BASE}/v1/admin/session`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: "https://evil.example" },
      body: JSON.stringify({ key: "sk_demo" }),
    });
    expect(cross.status).toBe(403);
  });

  it("should end the session on sign-out, and keep the Bearer key working", async () => {
    const cookie = cookieOf(await signIn());
    const out = await SELF.fetch(`${BASE}/v1/admin/session`, { method: "DELETE", headers: { cookie, origin: ORIGIN } });
    expect(out.status).toBe(200);
    expect(out.headers.get("set-cookie")).toContain("Max-Age=0");
    const after = await SELF.fetch(`${BASE}/v1/admin/campaigns`, { headers: { cookie } });
    expect(after.status).toBe(401);
    // Asking who is signed in is not an error when no one is.
    const who = await SELF.fetch(`${BASE}/v1/admin/session`, { headers: { cookie } });
    expect(who.status).toBe(200);
    expect(await who.json()).toEqual({ site: null });
    expect((await SELF.fetch(`${BASE}/v1/admin/campaigns`)).status).toBe(401);
    expect((await SELF.fetch(`${BASE}/v1/admin/campaigns`, { headers: SECRET })).status).toBe(200);
    const forged = await SELF.fetch(`${BASE}/v1/admin/campaigns`, {
      headers: { cookie: `nudge_admin=${"A".repeat(43)}` },
    });
    expect(forged.status).toBe(401);
  });

  it("should refuse every key from an address after 20 wrong ones in an hour, the right one included", async () => {
    const from = (ip: string, key: string) =>
      SELF.fetch(`${BASE}/v1/admin/campaigns`, { headers: { authorization: `Bearer ${key}`, "cf-connecting-ip": ip } });
    // The merchant's own requests with the right key never count against her address.
    for (let i = 0; i < 25; i++) expect((await from("198.51.100.1", "sk_demo")).status).toBe(200);
    expect((await from("198.51.100.1", "sk_guess")).status).toBe(401);

    // A guesser: the API and the dashboard's sign-in share the count.
    for (let i = 0; i < 10; i++) expect((await from("203.0.113.7", `sk_guess_${i}`)).status).toBe(401);
    for (let i = 0; i < 10; i++) {
      const res = await SELF.fetch(`${BASE}/v1/admin/session`, {
        method: "POST",
        headers: { "content-type": "application/json", origin: ORIGIN, "cf-connecting-ip": "203.0.113.7" },
        body: JSON.stringify({ key: `sk_guess_${10 + i}` }),
      });
      expect(res.status).toBe(401);
    }
    const blocked = await from("203.0.113.7", "sk_demo");
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await blocked.json()).toMatchObject({ error: { code: "too_many_wrong_keys" } });
    // Other addresses are untouched.
    expect((await from("198.51.100.2", "sk_demo")).status).toBe(200);
  });

  it("should report the overview of a period: messages sent and the revenue they influenced", async () => {
    const overview = async () => {
      const res = await SELF.fetch(`${BASE}/v1/admin/dashboard/overview`, { headers: SECRET });
      expect(res.status).toBe(200);
      return res.json<{
        revenueInfluenced: number;
        orders: number;
        messagesSent: number;
        days: { sent: number; influenced: number }[];
      }>();
    };
    const before = await overview();
    await putCampaign("dash-ov", {
      trigger: { type: "event", events: ["Dash OV"] },
      steps: [{ delay: 0, template: "welcome" }],
    });
    const email = `${uid("d")}@example.com`;
    const anonymousId = uid("anon");
    await send([
      { type: "identify", anonymousId, traits: { email } },
      { type: "track", anonymousId, event: "Dash OV", properties: {} },
    ]);
    await advance(60_000);
    const order = await post(
      "/v1/batch",
      {
        batch: [
          {
            type: "track",
            messageId: crypto.randomUUID(),
            anonymousId,
            event: "Order Completed",
            properties: { order_id: uid("o"), total: 25, currency: "GBP" },
          },
        ],
      },
      SECRET,
    );
    expect(order.status).toBe(200);
    const after = await overview();
    expect(after.messagesSent).toBe(before.messagesSent + 1);
    expect(after.revenueInfluenced).toBe(before.revenueInfluenced + 2500);
    expect(after.orders).toBe(before.orders + 1);
    expect(after.days.reduce((n, d) => n + d.influenced, 0)).toBe(after.revenueInfluenced);
    expect(after.days.reduce((n, d) => n + d.sent, 0)).toBe(after.messagesSent);
  });

  it("should search contacts and price a sample cart", async () => {
    const email = `${uid("find")}@example.com`;
    await send([{ type: "identify", anonymousId: uid("anon"), traits: { email } }]);
    const found = await SELF.fetch(`${BASE}/v1/admin/dashboard/contacts?q=${encodeURIComponent(email.slice(0, 12))}`, {
      headers: SECRET,
    });
    expect((await found.json<{ contacts: { email: string }[] }>()).contacts.map((c) => c.email)).toContain(email);
    const none = await SELF.fetch(`${BASE}/v1/admin/dashboard/contacts?q=%25`, { headers: SECRET });
    expect((await none.json<{ contacts: unknown[] }>()).contacts).toEqual([]);
    const priced = await SELF.fetch(`${BASE}/v1/admin/dashboard/price`, {
      method: "POST",
      headers: { "content-type": "application/json", ...SECRET },
      body: JSON.stringify({ lines: [{ product_id: "E7247", price: 79, quantity: 1 }] }),
    });
    expect(priced.status).toBe(200);
    expect(await priced.json()).toMatchObject({ totals: expect.any(Object) });
  });
});
