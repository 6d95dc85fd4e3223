import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it } from "vitest";
import type { Env } from "../../worker/src/env";
import { sweep } from "../../worker/src/jobs/sweep";
import { clock, putCampaign, send, uid } from "./helpers";

/** The sweep's limits: a provider's rate, and D1's calls per invocation. */

const fakes = inject("providers");
const resendEnv = (rates: Record<string, number>): Env => ({
  ...env,
  EMAIL_FROM: "Wavelength <shop@example.com>",
  RESEND_API_KEY: "re_test_123",
  RESEND_API_URL: `${fakes}/resend`,
  PROVIDER_RATES: JSON.stringify(rates),
});

async function due(count: number) {
  const ids: number[] = [];
  for (let i = 0; i < count; i++) {
    const email = `${uid("budget")}@example.com`;
    const anonymousId = uid("anon");
    await send([
      { type: "identify", anonymousId, traits: { email } },
      { type: "track", anonymousId, event: "Budget Test", properties: {} },
    ]);
  }
  const { results } = await env.DB.prepare(`SELECT id FROM messages WHERE campaign = 'budget' ORDER BY id`).all<{
    id: number;
  }>();
  for (const r of results) ids.push(r.id);
  return ids;
}

const rows = async () =>
  (
    await env.DB.prepare(`SELECT status, attempts FROM messages WHERE campaign = 'budget' ORDER BY id`).all<{
      status: string;
      attempts: number;
    }>()
  ).results;

describe("the sweep's limits", { timeout: 60_000 }, () => {
  beforeAll(async () => {
    await putCampaign("budget", {
      trigger: { type: "event", events: ["Budget Test"] },
      steps: [{ delay: 0, channel: "email", template: "welcome" }],
    });
  });

  it("should give a message back, not fail it, when the provider's rate leaves it no slot in this sweep", async () => {
    await env.DB.prepare(`DELETE FROM messages WHERE campaign = 'budget'`).run();
    await due(2);
    const at = (await clock()) + 1000;
    // One request per 1 000 s: the second message's slot falls after the sweep's 45 s.
    const first = await sweep(resendEnv({ resend: 0.001 }), at);
    expect(first).toMatchObject({ sent: 1, released: 1, failed: 0 });
    expect(await rows()).toEqual(
      expect.arrayContaining([
        { status: "sent", attempts: 1 },
        { status: "pending", attempts: 0 },
      ]),
    );
    const second = await sweep(resendEnv({ resend: 0.001 }), at + 60_000);
    expect(second).toMatchObject({ sent: 1, released: 0 });
  });

  it("should stop claiming before D1's calls per invocation run out, and leave the rest to the next sweep", async () => {
    await env.DB.prepare(`DELETE FROM messages WHERE campaign = 'budget'`).run();
    await due(30);
    const at = (await clock()) + 1000;
    const first = await sweep(resendEnv({ resend: 10_000 }), at, undefined, { calls: 25 });
    expect(first.d1Calls).toBeLessThanOrEqual(25);
    expect(first.sent).toBeGreaterThan(0);
    expect(first.sent).toBeLessThan(30);
    // Nothing stranded in 'sending': what was not claimed waits, pending.
    const after = await rows();
    expect(after.filter((r) => r.status === "sending")).toEqual([]);
    const rest = await sweep(resendEnv({ resend: 10_000 }), at + 60_000);
    expect(first.sent + rest.sent).toBe(30);
    expect((await rows()).every((r) => r.status === "sent")).toBe(true);
  });
});
