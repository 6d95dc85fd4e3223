import { SELF } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { bucket } from "../../worker/src/campaigns/engine";
import {
  advance,
  advanceToLocal,
  BASE,
  clock,
  mailbox,
  messagesOf,
  putCampaign,
  SECRET,
  send,
  sendAsServer,
  tick,
  unwrap,
  uid,
} from "./helpers";

const HOUR = 3600_000;
const DAY = 24 * HOUR;

/** A contact who signs in (with traits) and sends `event`. */
async function contactWith(event: string, traits: Record<string, unknown> = {}) {
  const email = `${uid("s")}@example.com`;
  const anonymousId = uid("anon");
  await send([
    { type: "identify", anonymousId, traits: { email, ...traits } },
    { type: "track", anonymousId, event, properties: {} },
  ]);
  return { email, anonymousId };
}

/** A shopper the store's server reports as signed up: the welcome mail's trigger. */
async function welcomed() {
  const email = `${uid("s")}@example.com`;
  const anonymousId = uid("anon");
  await send([{ type: "identify", anonymousId, traits: { email } }]);
  await sendAsServer([{ type: "track", anonymousId, event: "Signed Up", properties: {} }]);
  return { email, anonymousId };
}

const localHour = (at: number, timeZone: string) =>
  Number(new Intl.DateTimeFormat("en-GB", { timeZone, hour: "numeric", hourCycle: "h23" }).format(at));

describe("scheduler guarantees", () => {
  it("should defer a message due in quiet hours to the morning in the contact's time zone", async () => {
    await putCampaign("quiet", {
      trigger: { type: "event", events: ["Quiet Test"] },
      steps: [{ delay: "3h", template: "welcome" }],
      quietHours: { from: 21, to: 8 },
    });
    await advanceToLocal(10); // 10:00 London = 19:00 Tokyo
    const { email } = await contactWith("Quiet Test", { timezone: "Asia/Tokyo" });
    await advance(3 * HOUR + 60_000); // due 22:00 in Tokyo: deferred, not dropped
    expect(await mailbox(email, "quiet")).toHaveLength(0);
    const [row] = await messagesOf("quiet");
    expect(row?.status).toBe("pending");
    expect(row?.reason).toBe("quiet hours (Asia/Tokyo): deferred");
    expect(localHour(row?.due_at ?? 0, "Asia/Tokyo")).toBe(8);
    expect(new Date(row?.due_at ?? 0).getUTCMinutes()).toBe(0);
    await tick(row?.due_at ?? 0);
    expect(await mailbox(email, "quiet")).toHaveLength(1);
    const [sent] = await messagesOf("quiet");
    expect(sent?.status).toBe("sent");
    expect((sent?.sent_at ?? 0) - (row?.due_at ?? 0)).toBeGreaterThanOrEqual(0);
    expect((sent?.sent_at ?? 0) - (row?.due_at ?? 0)).toBeLessThan(60_000);
  });

  it("should let the higher-priority campaign through a shared frequency cap", async () => {
    const cap = { max: 1, hours: 24 };
    await putCampaign("cap-low", {
      priority: 10,
      trigger: { type: "event", events: ["Cap Test"] },
      steps: [{ delay: "1h", template: "welcome", subject: "low" }],
      frequencyCap: cap,
    });
    await putCampaign("cap-high", {
      priority: 90,
      trigger: { type: "event", events: ["Cap Test"] },
      steps: [{ delay: "1h", template: "welcome", subject: "high" }],
      frequencyCap: cap,
    });
    const { email, anonymousId } = await contactWith("Cap Test");
    await advance(2 * HOUR);
    expect((await mailbox(email)).map((m) => m.subject)).toEqual(["high"]);
    expect((await messagesOf("cap-low"))[0]).toMatchObject({ status: "cancelled", reason: "frequency cap" });
    // A day later the cap has room again.
    await advance(DAY);
    await send([{ type: "track", anonymousId, event: "Cap Test", properties: {} }]);
    await advance(2 * HOUR);
    expect((await mailbox(email)).map((m) => m.subject)).toEqual(["high", "high"]);
  });

  it("should hold out a stable share that is tracked, never sent, and count its orders for lift", async () => {
    await putCampaign("lift", {
      trigger: { type: "event", events: ["Lift Test"] },
      steps: [{ delay: "1h", template: "welcome" }],
      holdoutPercent: 50,
    });
    const people = await Promise.all(Array.from({ length: 16 }, () => contactWith("Lift Test")));
    await advance(2 * HOUR);
    const rows = await messagesOf("lift");
    expect(rows).toHaveLength(16);
    for (const r of rows) {
      const held = bucket(`lift:${r.contact_id}`) < 50;
      expect(r.holdout).toBe(held ? 1 : 0);
      expect(r.status).toBe(held ? "cancelled" : "sent");
      if (held) expect(r.reason).toBe("holdout");
      expect(await mailbox(r.email ?? "", "lift")).toHaveLength(held ? 0 : 1);
    }
    const treated = rows.find((r) => !r.holdout);
    const control = rows.find((r) => r.holdout);
    if (!treated || !control) throw new Error("expected both groups among 16 contacts");
    // The treated contact clicks and buys; the control contact buys anyway.
    const [mail] = await mailbox(treated.email ?? "", "lift");
    await unwrap(mail?.text.match(/Start shopping: (\S+)/)?.[1] ?? "");
    for (const r of [treated, control]) {
      const who = people.find((p) => p.email === r.email);
      await sendAsServer([
        {
          type: "track",
          anonymousId: who?.anonymousId,
          event: "Order Completed",
          properties: { order_id: uid("o"), total: 40 },
        },
      ]);
    }
    expect((await messagesOf("lift")).find((r) => r.id === treated.id)).toMatchObject({ status: "sent" });
    const res = await SELF.fetch(`${BASE}/v1/admin/campaigns/lift/results`, { headers: SECRET });
    const { groups } = await res.json<{
      groups: {
        group: string;
        recipients: number;
        messages: number;
        clicked: number;
        converted: number;
        revenue: number;
      }[];
    }>();
    const held = rows.filter((r) => r.holdout).length;
    expect(groups).toContainEqual(
      expect.objectContaining({ group: "holdout", recipients: held, messages: held, converted: 1, revenue: 4000 }),
    );
    expect(groups).toContainEqual(
      expect.objectContaining({
        group: "all",
        recipients: 16 - held,
        messages: 16 - held,
        clicked: 1,
        converted: 1,
        revenue: 4000,
      }),
    );
  });

  it("should split an A/B step by weight and report each variant", async () => {
    await putCampaign("ab", {
      trigger: { type: "event", events: ["AB Test"] },
      steps: [
        {
          delay: 0,
          template: "welcome",
          variants: [
            { id: "a", weight: 1, subject: "Alpha" },
            { id: "b", weight: 1, subject: "Beta" },
          ],
        },
      ],
    });
    await Promise.all(Array.from({ length: 20 }, () => contactWith("AB Test")));
    await advance(60_000);
    const rows = await messagesOf("ab");
    const subjects = new Map<string, string>();
    for (const r of rows) subjects.set(r.variant ?? "", (await mailbox(r.email ?? "", "ab"))[0]?.subject ?? "");
    expect(new Set(rows.map((r) => r.variant))).toEqual(new Set(["a", "b"]));
    expect(subjects.get("a")).toBe("Alpha");
    expect(subjects.get("b")).toBe("Beta");
    const res = await SELF.fetch(`${BASE}/v1/admin/campaigns/ab/results`, { headers: SECRET });
    const { groups } = await res.json<{ groups: { group: string; messages: number }[] }>();
    expect(groups.map((g) => g.group).sort()).toEqual(["a", "b"]);
    expect(groups.reduce((n, g) => n + g.messages, 0)).toBe(20);
  });

  it("should send each message once when sweeps overlap across many campaigns and contacts", async () => {
    await putCampaign("overlap", {
      trigger: { type: "event", events: ["Overlap Test"] },
      steps: [
        { delay: "1h", template: "welcome" },
        { delay: "1h", template: "loyalty" },
      ],
    });
    const people = await Promise.all(Array.from({ length: 12 }, () => contactWith("Overlap Test")));
    const at = (await clock()) + 2 * HOUR;
    await Promise.all([tick(at), tick(at), tick(at), tick(at)]);
    await Promise.all([tick(at + 2 * HOUR), tick(at + 2 * HOUR), tick(at + 2 * HOUR)]);
    for (const p of people) expect((await mailbox(p.email, "overlap")).map((m) => m.step).sort()).toEqual([1, 2]);
    const dupes = await env.DB.prepare(
      `SELECT count(*) AS n FROM outbox o JOIN messages m ON m.id = o.message_id WHERE m.campaign = 'overlap'`,
    ).first<{ n: number }>();
    expect(dupes?.n).toBe(24);
  });

  it("should record opens through the pixel once", async () => {
    const { email } = await welcomed();
    await advance(60_000);
    const [mail] = await mailbox(email, "welcome");
    const pixel = mail?.html.match(/<img src="([^"]+\/v1\/links\/open[^"]+)"/)?.[1]?.replace(/&amp;/g, "&") ?? "";
    const res = await SELF.fetch(pixel);
    expect(res.headers.get("content-type")).toBe("image/gif");
    await SELF.fetch(pixel);
    const row = (await messagesOf("welcome")).find((m) => m.email === email);
    const opened = await env.DB.prepare(`SELECT opened_at FROM messages WHERE id = ?`)
      .bind(row?.id)
      .first<{ opened_at: number | null }>();
    expect(opened?.opened_at).toBeGreaterThan(0);
    // An edited token records nothing but still answers with an image.
    const bad = await SELF.fetch(pixel.replace(/t=.{12}/, "t=AAAAAAAAAAAA"));
    expect(bad.status).toBe(200);
  });

  it("should run a repeating date campaign once per occurrence, however often the cron runs", async () => {
    const start = await clock();
    await putCampaign("anniversary", {
      trigger: { type: "date", at: new Date(start + 3600_000).toISOString(), every: "year" },
      audience: { attr: "vip", op: "eq", value: true },
      steps: [{ delay: 0, template: "holiday", subject: "Happy anniversary" }],
    });
    const { email } = await contactWith("Anything", { vip: true });
    await advance(30 * 60_000);
    expect(await mailbox(email, "anniversary")).toHaveLength(0);
    const at = (await clock()) + HOUR;
    await Promise.all([tick(at), tick(at), tick(at)]);
    await advance(DAY);
    expect(await mailbox(email, "anniversary")).toHaveLength(1);
    await advance(365 * DAY);
    expect(await mailbox(email, "anniversary")).toHaveLength(2);
  });

  it("should record the first click and refuse an edited click link", async () => {
    const { email } = await welcomed();
    await advance(60_000);
    const [mail] = await mailbox(email, "welcome");
    const link = mail?.text.match(/Start shopping: (\S+)/)?.[1] ?? "";
    const row = () =>
      env.DB.prepare(
        `SELECT m.clicked_at FROM messages m JOIN contacts k ON k.id = m.contact_id WHERE k.email = ? AND m.campaign = 'welcome'`,
      )
        .bind(email)
        .first<{ clicked_at: number | null }>();
    const edited = link.replace(/t=(.{20})./, (_, head: string) => `t=${head}${head.endsWith("A") ? "B" : "A"}`);
    expect((await SELF.fetch(edited, { redirect: "manual" })).status).toBe(400);
    expect((await row())?.clicked_at).toBeNull();
    expect(await unwrap(link)).toBe("http://127.0.0.1:8787"); // the store
    const first = (await row())?.clicked_at;
    expect(first).toBeGreaterThan(0);
    await unwrap(link);
    expect((await row())?.clicked_at).toBe(first);
  });
});
