import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { BASE, uid } from "./helpers";

/** The shapes Segment's browser library sends (the Chromium test runs the library itself). */
describe("Segment analytics.js paths", () => {
  it("should answer the settings request with its own Segment.io destination pointed back at the Worker", async () => {
    const res = await SELF.fetch(`${BASE}/v1/projects/pk_demo/settings`);
    expect(res.status).toBe(200);
    const body = await res.json<{ integrations: Record<string, { apiKey: string; apiHost: string }> }>();
    expect(Object.keys(body.integrations)).toEqual(["Segment.io"]);
    expect(body.integrations["Segment.io"]).toMatchObject({ apiKey: "pk_demo", apiHost: "127.0.0.1:8787/v1" });
  });

  it("should refuse settings for an unknown key", async () => {
    const res = await SELF.fetch(`${BASE}/v1/projects/pk_nobody/settings`);
    expect(res.status).toBe(401);
  });

  it("should accept a text/plain call on a short path and a Basic-auth batch on /b", async () => {
    const anonymousId = uid("ajs");
    const one = await SELF.fetch(`${BASE}/v1/t`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: JSON.stringify({ writeKey: "pk_demo", anonymousId, messageId: uid("m"), event: "Cart Viewed" }),
    });
    expect(one.status).toBe(200);
    expect(await one.json()).toMatchObject({ accepted: 1 });
    const batch = await SELF.fetch(`${BASE}/v1/b`, {
      method: "POST",
      headers: { "content-type": "text/plain", authorization: `Basic ${btoa("pk_demo:")}` },
      body: JSON.stringify({ batch: [{ type: "page", anonymousId, messageId: uid("m"), name: "Home" }] }),
    });
    expect(batch.status).toBe(200);
    expect(await batch.json()).toMatchObject({ accepted: 1 });
  });
});
