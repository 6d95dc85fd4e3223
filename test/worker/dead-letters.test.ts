import { SELF } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { FIRST_RETRY_MS } from "../../worker/src/jobs/webhooks";
import { DEAD_AFTER, retryDeadLetter } from "../../worker/src/model/dead-letters";
import { BASE, clock, mailbox, post, putCampaign, SECRET, send, tick, uid } from "./helpers";

const nested = (depth: number) => `${"[".repeat(depth)}1${"]".repeat(depth)}`;

/** A batch that got past validation once (before the bounds existed): SQLite refuses its JSON. */
async function poisonInbox(siteId = "demo") {
  const messageId = uid("poison");
  const body = `[{"type":"track","messageId":"${messageId}","anonymousId":"x","event":"E","properties":{"p":${nested(1100)}},"traits":{},"context":{},"timestamp":1}]`;
  const row = await env.DB.prepare(
    `INSERT INTO inbox (site_id, body, events, received_at) VALUES (?, ?, 1, ?) RETURNING id`,
  )
    .bind(siteId, body, Date.now())
    .first<{ id: number }>();
  return { id: row?.id ?? 0, messageId };
}

const admin = (path: string, method = "GET") =>
  SELF.fetch(`${BASE}/v1/admin/dead-letters${path}`, { method, headers: SECRET });

const letters = async (kind: string) =>
  (await (await admin(`?kind=${kind}`)).json<{ deadLetters: { id: number; ref: string; reason: string }[] }>())
    .deadLetters;

describe("poison set aside, not retried forever", () => {
  it("should keep every tick 2xx and the next shopper's reminder going out while a poisoned batch waits, then set it aside", async () => {
    await putCampaign("poison-welcome", {
      trigger: { type: "event", events: ["Poison Test"] },
      steps: [{ delay: 0, template: "welcome" }],
    });
    const { id, messageId } = await poisonInbox();
    // Another batch behind it, for the same sweep.
    await env.DB.prepare(`INSERT INTO inbox (site_id, body, events, received_at) VALUES ('demo', '[]', 0, ?)`)
      .bind(Date.now())
      .run();
    const email = `${uid("next")}@example.com`;
    const anonymousId = uid("anon");
    await send([
      { type: "identify", anonymousId, traits: { email } },
      { type: "track", anonymousId, event: "Poison Test", properties: {} },
    ]);
    const first = await tick((await clock()) + 1000);
    expect(first.sent).toBeGreaterThan(0);
    expect(await mailbox(email, "poison-welcome")).toHaveLength(1);
    // Export (which drains the inbox first) still answers.
    const contact = await SELF.fetch(`${BASE}/v1/admin/contacts?email=${encodeURIComponent(email)}`, {
      headers: SECRET,
    });
    const { contact: found } = await contact.json<{ contact: { id: string } }>();
    expect((await SELF.fetch(`${BASE}/v1/admin/contacts/${found.id}/export`, { headers: SECRET })).status).toBe(200);

    for (let i = 1; i < DEAD_AFTER; i++) await tick((await clock()) + 60_000);
    const inbox = await env.DB.prepare(`SELECT count(*) AS n FROM inbox WHERE id = ?`).bind(id).first<{ n: number }>();
    expect(inbox?.n).toBe(0);
    const dead = (await letters("batch")).find((d) => d.ref === String(id));
    expect(dead?.reason).toMatch(/malformed JSON|JSON/i);

    // Retry puts it back in the inbox (it fails again, but the admin could have fixed the cause);
    // drop forgets it.
    expect((await admin(`/${dead?.id}/retry`, "POST")).status).toBe(200);
    const back = await env.DB.prepare(`SELECT id, attempts FROM inbox WHERE body LIKE ?`)
      .bind(`%${messageId}%`)
      .all<{ id: number; attempts: number }>();
    expect(back.results).toEqual([expect.objectContaining({ attempts: 0 })]);
    await env.DB.prepare(`DELETE FROM inbox WHERE id = ?`).bind(back.results[0]?.id).run();
    expect((await admin(`/${dead?.id}`, "DELETE")).status).toBe(404); // retried: no longer a dead letter
  });

  it("should set aside an event that keeps failing to apply, and let the others be applied", async () => {
    // Events stored but not applied (the request that stored them died); the bad one's traits nest
    // deeper than SQLite's JSON functions go, so applying them fails every time.
    const bad = uid("bad-event");
    const good = uid("good-event");
    const old = Date.now() - 3600_000;
    await env.DB.batch(
      [bad, good].map((m) =>
        env.DB.prepare(
          `INSERT INTO events (site_id, message_id, type, event, anonymous_id, properties, traits, context, timestamp, received_at)
           VALUES ('demo', ?, 'identify', NULL, ?, '{}', ?, '{}', ?, ?)`,
        ).bind(m, uid("anon"), m === bad ? `{"deep":${nested(1100)}}` : `{"name":"Ada"}`, old, old),
      ),
    );
    const spy = vi.spyOn(console, "error").mockImplementation(() => undefined);
    for (let i = 0; i < DEAD_AFTER; i++) expect((await post("/v1/dev/tick", {}, SECRET)).status).toBe(200);
    spy.mockRestore();
    const rows = await env.DB.prepare(`SELECT message_id, processed FROM events WHERE message_id IN (?, ?)`)
      .bind(bad, good)
      .all<{ message_id: string; processed: number }>();
    const state = Object.fromEntries(rows.results.map((r) => [r.message_id, r.processed]));
    expect(state[good]).toBe(1);
    expect(state[bad]).toBe(2);
    const dead = (await letters("event")).find((d) => d.ref === bad);
    expect(dead).toBeDefined();
    expect((await admin(`/${dead?.id}`, "DELETE")).status).toBe(200);
    expect((await letters("event")).find((d) => d.ref === bad)).toBeUndefined();
  });

  it("should refuse an unknown kind with 400 and an unknown id with 404", async () => {
    expect((await admin("?kind=nope")).status).toBe(400);
    expect((await admin("/999999999/retry", "POST")).status).toBe(404);
    expect((await admin("/abc", "DELETE")).status).toBe(404);
    expect((await SELF.fetch(`${BASE}/v1/admin/dead-letters`)).status).toBe(401);
  });
});

describe("the merchant's callback webhook, retried from the sweep", () => {
  it("should retry a failing webhook with backoff and the same idempotency key, set it aside, and deliver it when retried", async () => {
    const siteId = uid("hooks");
    await env.DB.batch([
      env.DB.prepare(
        `INSERT INTO sites (id, name, public_key, secret_hash, url, created_at) VALUES (?1, ?1, 'pk_' || ?1, 'h_' || ?1, 'https://shop.example', 0)`,
      ).bind(siteId),
      env.DB.prepare(
        `INSERT INTO onsite_configs (site_id, config, webhook_url, webhook_secret, updated_at) VALUES (?, '{}', 'https://crm.example/hooks', 'whsec_x', 0)`,
      ).bind(siteId),
    ]);
    const start = await clock();
    const row = await env.DB.prepare(
      `INSERT INTO callbacks (site_id, request_id, anonymous_id, phone, time_window, created_at)
       VALUES (?, 'r1', 'a1', '+442079460958', 'asap', ?) RETURNING id`,
    )
      .bind(siteId, start)
      .first<{ id: number }>();
    const tries: { at: number; key: string | null }[] = [];
    let answer = 503;
    const real = globalThis.fetch;
    const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      if (!url.startsWith("https://crm.example/")) return real(input, init);
      tries.push({ at: await clock(), key: new Headers(init?.headers).get("idempotency-key") });
      return new Response("", { status: answer });
    });
    try {
      // Due FIRST_RETRY_MS after the request (its own try failed, or never ran), then after 1, 2, 4, 8 minutes.
      let at = start + FIRST_RETRY_MS + 1000;
      for (let i = 0; i < DEAD_AFTER + 2; i++) {
        await tick(at);
        at += 20 * 60_000;
      }
      expect(tries).toHaveLength(DEAD_AFTER);
      expect(new Set(tries.map((t) => t.key))).toEqual(new Set([`nudge-callback/${row?.id}`]));
      const dead = await env.DB.prepare(`SELECT id, reason FROM dead_letters WHERE site_id = ? AND kind = 'webhook'`)
        .bind(siteId)
        .first<{ id: number; reason: string }>();
      expect(dead?.reason).toBe("webhook answered 503");

      // The merchant fixed their server; the dead letter is retried and the next sweep delivers.
      answer = 200;
      expect(await retryDeadLetter(env.DB, siteId, dead?.id ?? 0, at)).toBe(true);
      await tick(at + 1000);
      expect(tries).toHaveLength(DEAD_AFTER + 1);
      const notified = await env.DB.prepare(`SELECT notified_at FROM callbacks WHERE id = ?`)
        .bind(row?.id)
        .first<{ notified_at: number | null }>();
      expect(notified?.notified_at).not.toBeNull();
      await tick(at + 3600_000);
      expect(tries).toHaveLength(DEAD_AFTER + 1); // delivered once, never again
    } finally {
      spy.mockRestore();
    }
  });
});

describe("dead letters and privacy", () => {
  it("should export a set-aside batch that names the contact, and erase it with them", async () => {
    const email = `${uid("dl-privacy")}@example.com`;
    const anonymousId = uid("anon");
    await send([{ type: "identify", anonymousId, traits: { email } }]);
    const body = `[{"type":"track","messageId":"m1","anonymousId":"${anonymousId}","properties":{"p":${nested(1100)}}}]`;
    const other = `[{"type":"track","messageId":"m2","anonymousId":"${uid("someone-else")}"}]`;
    await env.DB.batch(
      [body, other].map((b, i) =>
        env.DB.prepare(
          `INSERT INTO dead_letters (site_id, kind, ref, body, received_at, reason, attempts, created_at)
           VALUES ('demo', 'batch', ?, ?, 0, 'malformed JSON', 5, 0)`,
        ).bind(uid(`ref${i}`), b),
      ),
    );
    const lookup = await SELF.fetch(`${BASE}/v1/admin/contacts?email=${encodeURIComponent(email)}`, {
      headers: SECRET,
    });
    const { contact } = await lookup.json<{ contact: { id: string } }>();
    const exported = await (
      await SELF.fetch(`${BASE}/v1/admin/contacts/${contact.id}/export`, { headers: SECRET })
    ).json<{ data: { dead_letters: { body: string }[] } }>();
    expect(exported.data.dead_letters.map((d) => d.body)).toEqual([body]);
    const erased = await SELF.fetch(`${BASE}/v1/admin/contacts/${contact.id}`, { method: "DELETE", headers: SECRET });
    expect(erased.status).toBe(200);
    const left = await env.DB.prepare(`SELECT body FROM dead_letters WHERE body IN (?, ?)`)
      .bind(body, other)
      .all<{ body: string }>();
    expect(left.results.map((r) => r.body)).toEqual([other]);
  });
});
