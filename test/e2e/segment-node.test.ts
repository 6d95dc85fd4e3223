import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { Analytics } from "@segment/analytics-node";
import { describe, expect, it } from "vitest";
import { baseUrl } from "./browser";

const SECRET = { authorization: "Bearer sk_demo" };

interface Profile {
  id: string;
  email: string | null;
  ordersCount: number;
  totalSpent: number;
  identities: { kind: string; value: string }[];
}

async function contact(userId: string): Promise<Profile | null> {
  const res = await fetch(`${baseUrl()}/v1/admin/contacts?userId=${encodeURIComponent(userId)}`, { headers: SECRET });
  return res.status === 200 ? (await res.json()).contact : null;
}

describe("Segment's server library, unchanged", () => {
  it("should send identify, track, page and alias through @segment/analytics-node and find them stored", async () => {
    const userId = `seg-${Date.now()}`;
    const errors: unknown[] = [];
    // A server library is the merchant's server: it holds the secret key, so its orders count.
    const analytics = new Analytics({ writeKey: "sk_demo", host: baseUrl(), flushAt: 3, maxRetries: 0 });
    analytics.on("error", (e) => errors.push(e));
    analytics.identify({ userId, traits: { email: `${userId}@example.com`, name: "Segment Sam" } });
    analytics.track({ userId, event: "Order Completed", properties: { order_id: `${userId}-1`, total: 42.5 } });
    analytics.page({ userId, name: "Home", properties: { url: "https://shop.example/" } });
    analytics.alias({ userId, previousId: `${userId}-legacy` });
    await analytics.closeAndFlush({ timeout: 10_000 });
    expect(errors).toEqual([]);

    const stored = await contact(userId);
    expect(stored).toMatchObject({ email: `${userId}@example.com`, ordersCount: 1, totalSpent: 4250 });
    expect(stored?.identities).toEqual(expect.arrayContaining([{ kind: "anonymous", value: `${userId}-legacy` }]));
    const dump = await (await fetch(`${baseUrl()}/v1/admin/contacts/${stored?.id}/export`, { headers: SECRET })).json();
    const types = dump.data.events.map((e: { type: string }) => e.type).sort();
    expect(types).toEqual(["alias", "identify", "page", "track"]);
  });
});

describe("npm run site:create", () => {
  it("should create a site whose printed keys work at once, and store only the secret's hash", async () => {
    const out = execFileSync(
      process.execPath,
      [
        "worker/scripts/site-create.ts",
        "--name",
        "Cli shop",
        "--url",
        "https://cli.example",
        "--origins",
        "https://cli.example",
        "--currency",
        "eur",
        "--config",
        "demo-store/wrangler.jsonc",
        "--persist-to",
        ".wrangler/e2e-state",
        "--json",
      ],
      { encoding: "utf8" },
    );
    const keys = JSON.parse(out.trim().split("\n").at(-1) ?? "{}");
    expect(keys.publicKey).toMatch(/^pk_/);
    expect(keys.secretKey).toMatch(/^sk_/);

    const send = (origin: string) =>
      fetch(`${baseUrl()}/v1/track`, {
        method: "POST",
        headers: { "content-type": "application/json", origin },
        body: JSON.stringify({ writeKey: keys.publicKey, messageId: "m1", anonymousId: "a1", event: "Viewed" }),
      });
    expect((await send("https://evil.example")).status).toBe(403);
    expect((await send("https://cli.example")).status).toBe(200);
    const admin = await fetch(`${baseUrl()}/v1/admin/contacts?anonymousId=a1`, {
      headers: { authorization: `Bearer ${keys.secretKey}` },
    });
    expect(admin.status).toBe(200);

    const sites = execFileSync(
      process.execPath,
      [
        "node_modules/wrangler/bin/wrangler.js",
        "d1",
        "execute",
        "DB",
        "--local",
        "--json",
        "-c",
        "demo-store/wrangler.jsonc",
      ].concat(["--persist-to", ".wrangler/e2e-state", "--command", "SELECT * FROM sites"]),
      {
        encoding: "utf8",
        env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
      },
    );
    expect(sites).toContain(createHash("sha256").update(keys.secretKey).digest("hex"));
    expect(sites).not.toContain(keys.secretKey);
  });
});
