import { SELF } from "cloudflare:test";
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bucket, nextStep } from "../../worker/src/campaigns/engine";
import { parseDefinition } from "../../worker/src/campaigns/definition";
import { nodes } from "../../worker/src/campaigns/flow";
import { cancelPending, passFlow } from "../../worker/src/model/messages";
import {
  advance,
  advanceToLocal,
  BASE,
  clock,
  mailbox,
  messagesOf,
  post,
  product,
  putCampaign,
  SECRET,
  send,
  tick,
  uid,
  unwrap,
} from "./helpers";

const HOUR = 3600_000;
const DAY = 24 * HOUR;

/** A shopper who signs in with `traits`, fills the cart with `items` and sends `event`. */
async function shopper(event: string, { traits = {}, items = [] as ReturnType<typeof product>[] } = {}) {
  const email = `${uid("b")}@example.com`;
  const anonymousId = uid("anon");
  await send([
    { type: "identify", anonymousId, traits: { email, name: "Ada", ...traits } },
    ...items.map((p) => ({ type: "track", anonymousId, event: "Product Added", properties: p })),
    { type: "track", anonymousId, event, properties: {} },
  ]);
  return { email, anonymousId };
}

/** A welcome mail at once, then a branch an hour later whose ways mail "Yes" or "No". */
const branching = (event: string, condition: Record<string, unknown>) => ({
  trigger: { type: "event", events: [event] },
  steps: [
    { delay: 0, template: "welcome" },
    {
      delay: "1h",
      if: condition,
      then: [{ template: "loyalty", subject: "Yes" }],
      else: [{ template: "loyalty", subject: "No" }],
    },
  ],
  exit: { ordered: false },
});

const campaignOf = async (id: string) =>
  (await SELF.fetch(`${BASE}/v1/admin/campaigns/${id}`, { headers: SECRET })).json<{
    campaign: { steps: unknown[] };
    enabled: boolean;
  }>();

const subjects = async (email: string, campaign: string) =>
  (await mailbox(email, campaign)).map((m) => m.subject).reverse();

const pixelOf = (html = "") =>
  html.match(/<img src="([^"]+\/v1\/links\/open[^"]+)"/)?.[1]?.replace(/&amp;/g, "&") ?? "";
const linkOf = (text = "") => text.match(/Start shopping: (\S+)/)?.[1] ?? "";

/**
 * Each condition kind, taken each way: `yes` makes it hold for one shopper after their journey
 * began (the condition is read when the branch falls due, not at the start); the other does nothing.
 */
const CASES: {
  kind: string;
  condition: Record<string, unknown>;
  items?: ReturnType<typeof product>[];
  yes: (s: { email: string; anonymousId: string }, campaign: string) => Promise<unknown>;
}[] = [
  {
    kind: "opened",
    condition: { opened: true },
    yes: async ({ email }, c) => SELF.fetch(pixelOf((await mailbox(email, c))[0]?.html)),
  },
  {
    kind: "clicked",
    condition: { clicked: true },
    yes: async ({ email }, c) => unwrap(linkOf((await mailbox(email, c))[0]?.text)),
  },
  {
    kind: "cart",
    condition: { cartValue: { gte: 5000 } },
    items: [product("G2010", 19.5)],
    // £19.50 at the start; the speaker added later takes the cart to £98.50.
    yes: ({ anonymousId }) =>
      send([{ type: "track", anonymousId, event: "Product Added", properties: product("E7247", 79) }]),
  },
  {
    kind: "segment",
    condition: { segment: { attr: "vip", op: "eq", value: true } },
    yes: ({ anonymousId }) => send([{ type: "identify", anonymousId, traits: { vip: true } }]),
  },
];

describe("branching steps", () => {
  it.each(CASES)("should take each way of a branch on $kind, as things stand when it falls due", async (x) => {
    const campaign = `branch-${x.kind}`;
    await putCampaign(campaign, branching(`Branch ${x.kind}`, x.condition));
    const items = x.items ?? [];
    const [yes, no] = [await shopper(`Branch ${x.kind}`, { items }), await shopper(`Branch ${x.kind}`, { items })];
    await advance(60_000);
    if (!yes || !no) throw new Error("two shoppers");
    await x.yes(yes, campaign);
    await advance(2 * HOUR);
    expect(await subjects(yes.email, campaign)).toEqual(["Welcome to Wavelength", "Yes"]);
    expect(await subjects(no.email, campaign)).toEqual(["Welcome to Wavelength", "No"]);
    // The branch is step 2 (never delivered, its way recorded); then is step 3, else step 4.
    const rows = (await messagesOf(campaign)).map((r) => [r.email, r.step, r.channel, r.status]);
    expect(rows).toEqual(
      expect.arrayContaining([
        [yes.email, 2, "branch", "cancelled"],
        [yes.email, 3, "email", "sent"],
        [no.email, 2, "branch", "cancelled"],
        [no.email, 4, "email", "sent"],
      ]),
    );
    expect(rows).toHaveLength(6);
  });

  it("should go on when the awaited event arrives, or take the else way when it does not in time", async () => {
    await putCampaign("wait-checkout", {
      trigger: { type: "event", events: ["Wait Test"] },
      steps: [
        { delay: 0, template: "welcome" },
        {
          waitUntil: { event: "Checkout Started", timeout: "2d" },
          then: [{ template: "loyalty", subject: "Came" }],
          else: [{ template: "loyalty", subject: "Timed out" }],
        },
        { delay: "1d", template: "loyalty", subject: "After" },
      ],
      exit: { ordered: false },
    });
    const [came, late, never] = [await shopper("Wait Test"), await shopper("Wait Test"), await shopper("Wait Test")];
    await advance(60_000);
    await advance(HOUR);
    // The event wakes the wait in its own transaction: due at once, before any sweep runs.
    await send([{ type: "track", anonymousId: came?.anonymousId, event: "Checkout Started", properties: {} }]);
    const woken = (await messagesOf("wait-checkout")).find((r) => r.email === came?.email && r.step === 2);
    expect(woken?.due_at).toBeLessThanOrEqual(await clock());
    await advance(60_000);
    expect(await subjects(came?.email ?? "", "wait-checkout")).toEqual(["Welcome to Wavelength", "Came"]);
    expect(await subjects(never?.email ?? "", "wait-checkout")).toEqual(["Welcome to Wavelength"]);

    // Past the timeout: the others take the else way, even one whose event comes after it.
    await advance(2 * DAY);
    await send([{ type: "track", anonymousId: late?.anonymousId, event: "Checkout Started", properties: {} }]);
    await advance(60_000);
    expect(await subjects(never?.email ?? "", "wait-checkout")).toEqual(["Welcome to Wavelength", "Timed out"]);
    expect(await subjects(late?.email ?? "", "wait-checkout")).toEqual(["Welcome to Wavelength", "Timed out"]);
    // Either way, the journey goes on with the step after the wait.
    await advance(DAY + HOUR);
    for (const s of [came, late, never]) expect((await subjects(s?.email ?? "", "wait-checkout")).at(-1)).toBe("After");
  });

  it("should wait for a time, then go on", async () => {
    const at = new Date((await clock()) + 3 * DAY).toISOString();
    await putCampaign("wait-date", {
      trigger: { type: "event", events: ["Wait Date Test"] },
      steps: [
        { delay: 0, template: "welcome" },
        { waitUntil: { at } },
        { delay: 0, template: "loyalty", subject: "On the day" },
      ],
      exit: { ordered: false },
    });
    const { email } = await shopper("Wait Date Test");
    await advance(60_000);
    await advance(2 * DAY);
    expect(await subjects(email, "wait-date")).toEqual(["Welcome to Wavelength"]);
    await tick(Date.parse(at) + 60_000);
    expect(await subjects(email, "wait-date")).toEqual(["Welcome to Wavelength", "On the day"]);
  });

  it("should wait for the contact's local hour", async () => {
    await putCampaign("wait-hour", {
      trigger: { type: "event", events: ["Wait Hour Test"] },
      steps: [
        { delay: 0, template: "welcome" },
        { waitUntil: { hour: 9 } },
        { delay: 0, template: "loyalty", subject: "Good morning" },
      ],
      exit: { ordered: false },
    });
    await advanceToLocal(10); // 10:00 in London: 18:00 in Tokyo, where this shopper lives
    const { email } = await shopper("Wait Hour Test", { traits: { timezone: "Asia/Tokyo" } });
    await advance(60_000);
    await advance(60_000); // the wait falls due after the mail, and is put off to 09:00 there
    const [wait] = (await messagesOf("wait-hour")).filter((r) => r.step === 2);
    expect(wait?.status).toBe("pending");
    expect(wait?.reason).toMatch(/^waiting until /);
    // 09:00 in Tokyo is 00:00 in London (winter) or 01:00 (summer).
    const at = wait?.due_at ?? 0;
    expect(
      new Intl.DateTimeFormat("en-GB", { timeZone: "Asia/Tokyo", hour: "numeric", hourCycle: "h23" }).format(at),
    ).toBe("09");
    await tick(at - 60_000);
    expect(await subjects(email, "wait-hour")).toEqual(["Welcome to Wavelength"]);
    await tick(at);
    expect(await subjects(email, "wait-hour")).toEqual(["Welcome to Wavelength", "Good morning"]);
  });

  it("should walk the holdout through the same branches, and report each branch step's ways", async () => {
    await putCampaign("branch-lift", { ...branching("Branch Lift", { cartValue: { gte: 5000 } }), holdoutPercent: 50 });
    const people = [];
    for (let i = 0; i < 12; i++)
      people.push(await shopper("Branch Lift", { items: [product(i % 2 ? "E7247" : "G2010", i % 2 ? 79 : 19.5)] }));
    await advance(60_000);
    await advance(2 * HOUR);
    const rows = await messagesOf("branch-lift");
    const branch = await env.DB.prepare(
      `SELECT contact_id, branch, holdout FROM messages WHERE campaign = 'branch-lift' AND step = 2`,
    ).all<{ contact_id: string; branch: string; holdout: number }>();
    expect(branch.results).toHaveLength(12);
    for (const b of branch.results) {
      const rich = rows.find((r) => r.contact_id === b.contact_id && r.step === 3);
      const held = bucket(`branch-lift:${b.contact_id}`) < 50;
      expect(b.holdout).toBe(held ? 1 : 0);
      expect(b.branch).toBe(rich ? "then" : "else");
      // The way's message is held for the control group, sent for the others.
      const after = rows.find((r) => r.contact_id === b.contact_id && r.step > 2);
      expect([after?.status, after?.reason ?? null]).toEqual(held ? ["cancelled", "holdout"] : ["sent", null]);
    }
    const res = await SELF.fetch(`${BASE}/v1/admin/campaigns/branch-lift/results`, { headers: SECRET });
    const { steps } = await res.json<{
      steps: { step: number; label: string; groups: { group: string; wentThen?: number; wentElse?: number }[] }[];
    }>();
    const two = steps.find((s) => s.step === 2);
    expect(two?.label).toBe("2 · if cart value ≥ 5000");
    const took = (g: string) => two?.groups.find((x) => x.group === g);
    const count = (held: boolean, way: string) =>
      branch.results.filter((b) => b.holdout === (held ? 1 : 0) && b.branch === way).length;
    expect(took("holdout")).toMatchObject({ wentThen: count(true, "then"), wentElse: count(true, "else") });
    expect(took("all")).toMatchObject({ wentThen: count(false, "then"), wentElse: count(false, "else") });
    expect(steps.find((s) => s.step === 3)?.label).toBe("3 · email loyalty (then of 2)");
  });

  it("should take exactly one way per journey however sweeps overlap", async () => {
    await putCampaign("branch-overlap", branching("Branch Overlap", { cartValue: { gte: 5000 } }));
    // Any number of concurrent sweeps at each moment, any mix of carts: one message per way taken.
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.boolean(), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 4 }),
        async (rich, sweeps) => {
          const people = [];
          for (const r of rich)
            people.push({ rich: r, ...(await shopper("Branch Overlap", { items: [product("E7247", r ? 79 : 9)] })) });
          const at = (await clock()) + 60_000;
          for (const t of [at, at + 2 * HOUR, at + 2 * HOUR + 60_000])
            await Promise.all(Array.from({ length: sweeps }, () => tick(t)));
          for (const p of people)
            expect(await subjects(p.email, "branch-overlap")).toEqual(["Welcome to Wavelength", p.rich ? "Yes" : "No"]);
        },
      ),
      { numRuns: 4 },
    );
  });

  it("should let only the sweep that recorded the way schedule what follows", async () => {
    // Two sweeps hold the same branch row (one claimed it, died, and came back after the other
    // re-claimed it) and read the condition differently: whichever commits first wins, once.
    await putCampaign("branch-race", branching("Branch Race", { opened: true }));
    const { email } = await shopper("Branch Race");
    await advance(60_000);
    const at = (await clock()) + 2 * HOUR;
    const row = (await messagesOf("branch-race")).find((r) => r.step === 1);
    const key = (await env.DB.prepare(`SELECT dedupe_key, data FROM messages WHERE id = ?`)
      .bind(row?.id)
      .first<{ dedupe_key: string; data: string }>()) ?? { dedupe_key: "", data: "{}" };
    const branchKey = key.dedupe_key.replace(/:1$/, ":2");
    await env.DB.prepare(`UPDATE messages SET status = 'sending', claimed_at = ? WHERE dedupe_key = ?`)
      .bind(at, branchKey)
      .run();
    const b = await env.DB.prepare(`SELECT id FROM messages WHERE dedupe_key = ?`)
      .bind(branchKey)
      .first<{ id: number }>();
    const def = parseDefinition(branching("Branch Race", { opened: true }), "branch-race");
    const m = {
      siteId: "demo",
      contactId: row?.contact_id ?? "",
      step: 2,
      dedupeKey: branchKey,
      holdout: 0,
      data: key.data,
    };
    for (const way of ["then", "else"] as const)
      await env.DB.batch([
        passFlow(env.DB, b?.id ?? 0, way, way),
        ...nextStep(env.DB, def, m, at, { id: b?.id ?? 0, way }),
      ]);
    await tick(at + 60_000);
    expect(await subjects(email, "branch-race")).toEqual(["Welcome to Wavelength", "Yes"]);
    expect((await messagesOf("branch-race")).map((r) => r.step)).toEqual([1, 2, 3]);
  });

  it("should keep the step numbers of the tree when an opt-out spares some templates", async () => {
    // Steps: 1 welcome · 2 if · 3 loyalty (then) · 4 holiday (else) · 5 loyalty · 6 welcome.
    await putCampaign("branch-numbers", {
      trigger: { type: "event", events: ["Branch Numbers"] },
      steps: [
        { delay: 0, template: "welcome" },
        {
          if: { opened: true },
          then: [{ template: "loyalty" }],
          else: [{ template: "holiday" }, { template: "loyalty" }],
        },
        { template: "welcome" },
      ],
    });
    const def = parseDefinition((await campaignOf("branch-numbers")).campaign, "branch-numbers");
    expect(nodes(def).map((n) => n.label)).toEqual([
      "1 · email welcome",
      "2 · if opened the previous message",
      "3 · email loyalty (then of 2)",
      "4 · email holiday (else of 2)",
      "5 · email loyalty (else of 2)",
      "6 · email welcome",
    ]);
    const contact = uid("c");
    const now = await clock();
    for (let step = 1; step <= 6; step++)
      await env.DB.prepare(
        `INSERT INTO messages (site_id, contact_id, campaign, step, channel, dedupe_key, due_at, created_at)
         VALUES ('demo', ?, 'branch-numbers', ?, 'email', ?, ?, ?)`,
      )
        .bind(contact, step, `${contact}:${step}`, now + DAY, now)
        .run();
    await cancelPending(env.DB, "demo", contact, "unsubscribed", { templates: ["loyalty"] }).run();
    const { results } = await env.DB.prepare(
      `SELECT step FROM messages WHERE contact_id = ? AND status = 'pending' ORDER BY step`,
    )
      .bind(contact)
      .all<{ step: number }>();
    expect(results.map((r) => r.step)).toEqual([3, 5]);
  });
});

describe("branching definitions", () => {
  const put = (steps: unknown[]) =>
    SELF.fetch(`${BASE}/v1/admin/campaigns/bad-branch`, {
      method: "PUT",
      headers: { "content-type": "application/json", ...SECRET },
      body: JSON.stringify({ trigger: { type: "event", events: ["X"] }, steps }),
    });
  const mail = { template: "welcome" };
  const deep = (n: number): Record<string, unknown> => (n === 0 ? mail : { if: { opened: true }, then: [deep(n - 1)] });

  it.each([
    [
      "a branch first",
      [{ if: { opened: true }, then: [mail] }],
      "steps must start with a message (a branch or wait comes after one).",
    ],
    ["an unknown condition", [mail, { if: { read: true }, then: [mail] }], "steps[1].if.read is not a known field."],
    [
      "two conditions",
      [mail, { if: { opened: true, clicked: true }, then: [mail] }],
      "steps[1].if must hold exactly one of { opened }, { clicked }, { cartValue: { gte, lt } } or { segment }.",
    ],
    [
      "a cart value with no bound",
      [mail, { if: { cartValue: {} }, then: [mail] }],
      "steps[1].if.cartValue: needs gte or lt (minor units).",
    ],
    ["a branch with no steps", [mail, { if: { opened: true } }], "steps[1]: needs steps in then or else."],
    [
      "an unknown template in an arm",
      [mail, { if: { opened: true }, then: [{ template: "nope" }] }],
      "steps[1].then[0].template must be a message",
    ],
    [
      "an event wait without a timeout",
      [mail, { waitUntil: { event: "Checkout Started" } }],
      'steps[1].waitUntil: needs a timeout for the event (like "3d").',
    ],
    [
      "ways on a time wait",
      [mail, { waitUntil: { hour: 9 }, then: [mail] }],
      "steps[1]: then and else need an event to wait for; a wait for a time just goes on with the next step.",
    ],
    ["branches nested too deep", [mail, deep(3)], "steps must nest branches at most 2 deep."],
    [
      "too many steps in all",
      [mail, ...Array.from({ length: 8 }, () => ({ if: { opened: true }, then: [mail, mail], else: [mail] }))],
      "steps must hold at most 30 steps in all, branches included.",
    ],
  ])("should refuse %s with a 400 that says what to fix", async (_, steps, message) => {
    const res = await put(steps);
    expect(res.status).toBe(400);
    expect((await res.json<{ error: { message: string } }>()).error.message).toContain(message);
  });

  it("should store a branch in one shape, and a straight journey exactly as before", async () => {
    await putCampaign("shape", {
      trigger: { type: "event", events: ["Shape"] },
      steps: [
        { delay: "1h", template: "welcome" },
        { delay: "1d", if: { cartValue: { gte: 5000 } }, else: [{ template: "loyalty" }] },
        { waitUntil: { event: "Checkout Started", timeout: "3d" } },
      ],
    });
    const got = (await campaignOf("shape")).campaign;
    expect(got.steps).toEqual([
      { delayMs: HOUR, channel: "email", template: "welcome" },
      {
        delayMs: DAY,
        if: { cartValue: { gte: 5000 } },
        then: [],
        else: [{ delayMs: 0, channel: "email", template: "loyalty" }],
      },
      { waitUntil: { event: "Checkout Started", timeoutMs: 3 * DAY }, then: [], else: [] },
    ]);
    // The built-in template, seeded disabled on the demo (it would double abandoned_cart's mail).
    const seeded = await campaignOf("abandoned_cart_adaptive");
    expect(seeded.enabled).toBe(false);
    expect(nodes(parseDefinition(seeded.campaign, "abandoned_cart_adaptive")).map((n) => n.label)).toEqual([
      "1 · email cart_reminder",
      "2 · if cart value ≥ 5000",
      "3 · email cart_last_call (then of 2)",
      "4 · email cart_last_call (else of 2)",
      "5 · if not opened the previous message",
      "6 · sms cart_sms (then of 5)",
    ]);
    expect((await post(`/v1/admin/campaigns/templates/abandoned_cart_adaptive/enable`, {}, SECRET)).status).toBe(201);
    expect((await campaignOf("abandoned_cart_adaptive")).enabled).toBe(true);
    await putCampaign("abandoned_cart_adaptive", { ...seeded.campaign, enabled: false });
  });
});
