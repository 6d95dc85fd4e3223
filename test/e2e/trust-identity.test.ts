import { describe, expect, it } from "vitest";
import { api, baseUrl, flush, useBrowser, watchErrors } from "./browser";

/**
 * Issue 13, item 3, through the real SDK in Chromium: a stranger's browser identifies with a known
 * shopper's email, then with its own email and phone. Her profile must stay hers, and the stranger's
 * browser must not be linked to her (so her cart, codes and mail never reach the stranger).
 */

const browser = useBrowser();

interface Contact {
  id: string;
  email: string | null;
  name: string | null;
  phone: string | null;
  userId: string | null;
  identities: { kind: string; value: string }[];
}

describe("a stranger's browser claiming a known shopper", () => {
  it("should leave her email, name, phone and devices untouched, and keep the stranger on a contact of its own", async () => {
    const stamp = Date.now();
    const victim = `vera-${stamp}@example.com`;
    const attacker = `mallory-${stamp}@example.com`;
    // Her profile, reported by the shop's server (secret key): a known contact.
    await api("/v1/batch", {
      batch: [
        {
          type: "identify",
          messageId: `vera-${stamp}`,
          userId: `vera-${stamp}`,
          traits: { email: victim, name: "Vera", phone: "+447700900001" },
        },
      ],
    });

    const page = await browser().newPage();
    const errors = watchErrors(page);
    await page.goto(`${baseUrl()}/`);
    await page.evaluate(
      ({ victim, attacker }) => {
        const nudge = (window as unknown as { nudge: (...a: unknown[]) => unknown }).nudge;
        nudge("identify", { email: victim });
        nudge("identify", { email: attacker, name: "Mallory", phone: "+447700900666" });
      },
      { victim, attacker },
    );
    await flush(page);
    const aid = await page.evaluate(() => localStorage.getItem("nudge_aid"));
    expect(aid).toBeTruthy();

    const { contact: vera } = await api<{ contact: Contact }>(`/v1/admin/contacts?email=${encodeURIComponent(victim)}`);
    expect(vera).toMatchObject({ email: victim, name: "Vera", phone: "+447700900001", userId: `vera-${stamp}` });
    expect(vera.identities).not.toContainEqual({ kind: "anonymous", value: aid });
    expect(vera.identities).not.toContainEqual({ kind: "email", value: attacker });
    const { contact: stranger } = await api<{ contact: Contact }>(`/v1/admin/contacts?anonymousId=${aid}`);
    expect(stranger.id).not.toBe(vera.id);
    expect(errors).toEqual([]);
    await page.close();
  });
});
