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
