import { describe, expect, it } from "vitest";
import { advance, advanceToLocal, api, baseUrl, flush, mailsTo, signIn, useBrowser, watchErrors } from "./browser";

const HOUR = 3600_000;
const DAY = 24 * HOUR;

const browser = useBrowser();

interface Row {
  contact_id: string;
  campaign: string;
  step: number;
  channel: string;
  status: string;
  reason: string | null;
  branch: string | null;
}

/** A shopper signs in, puts one product in the cart and leaves; their contact id. */
async function leaveCart(email: string, productId: string) {
  const shop = await browser().newContext();
  const page = await shop.newPage();
  const errors = watchErrors(page);
  await signIn(page, email, "Ada");
  await page.goto(`${baseUrl()}/product?id=${productId}`);
  await page.click("#add-to-cart");
  await expect.poll(() => page.textContent("#cart-count")).toBe("1");
  await flush(page);
  expect(errors).toEqual([]);
  await shop.close();
  const { contact } = await api<{ contact: { id: string } }>(`/v1/admin/contacts?email=${encodeURIComponent(email)}`);
  return contact.id;
}

const journey = async (contactId: string) =>
  (await api<{ messages: Row[] }>("/v1/admin/messages")).messages
    .filter((m) => m.contact_id === contactId && m.campaign === "abandoned_cart_adaptive")
    .map((m) => [m.step, m.channel, m.status, m.branch])
    .sort((a, b) => Number(a[0]) - Number(b[0]));

const adaptive = async (email: string) =>
  (await mailsTo(email)).filter((m) => m.campaign === "abandoned_cart_adaptive").sort((a, b) => a.step - b.step);

describe("a journey that branches, end to end", () => {
  it("should give a code to the big cart only, and text only the shopper who left the mail unread", async () => {
    // The merchant enables the adaptive cart journey (the demo seeds it disabled).
    const { campaign } = await api<{ campaign: Record<string, unknown> }>(
      "/v1/admin/campaigns/templates/abandoned_cart_adaptive/enable",
      {},
    );
    try {
      // Ada leaves the E7247 speaker (£79), Ben the vinyl care kit (£19.50).
      const stamp = Date.now();
      const [ada, ben] = [`ada-branch-${stamp}@example.com`, `ben-branch-${stamp}@example.com`];
      const adaId = await leaveCart(ada, "E7247");
      const benId = await leaveCart(ben, "G2010");
      // Ben's number comes from the store's server (secret key): a browser's word never earns a text.
      const phone = `+4477009${String(stamp).slice(-5)}`;
      await api("/v1/batch", {
        batch: [{ type: "identify", messageId: `ben-${stamp}`, userId: ben, traits: { email: ben, phone } }],
      });

      // The first reminder; a day later the branch on the cart's value is decided, each way.
      await advance(2 * HOUR);
      await advance(DAY + HOUR);
      const [adaMails, benMails] = [await adaptive(ada), await adaptive(ben)];
      expect(adaMails.map((m) => m.step)).toEqual([1, 3]);
      expect(benMails.map((m) => m.step)).toEqual([1, 4]);
      expect(adaMails[1]?.text).toMatch(/Your code: [2-9A-Z]{4}(?:-[2-9A-Z]{4}){3}/);
      expect(benMails[1]?.text).not.toContain("Your code");

      // Ada follows the link in her second mail (her cart comes back) but does not order; Ben
      // never opens his. A click counts as an open: the pixel misses readers who block images.
      const device = await browser().newContext();
      const page = await device.newPage();
      await page.goto(adaMails[1]?.text.match(/Return to your cart: (\S+)/)?.[1] ?? "");
      await expect.poll(() => page.locator(".cart-line").count()).toBe(1);
      await device.close();

      // A day later (in the daytime: texts keep quiet hours): Ada opened hers, so no text; Ben did
      // not, so the journey texts him.
      await advanceToLocal(DAY + HOUR, 11);
      expect(await journey(adaId)).toEqual([
        [1, "email", "sent", null],
        [2, "branch", "cancelled", "then"],
        [3, "email", "sent", null],
        [5, "branch", "cancelled", "else"],
      ]);
      expect(await journey(benId)).toEqual([
        [1, "email", "sent", null],
        [2, "branch", "cancelled", "else"],
        [4, "email", "sent", null],
        [5, "branch", "cancelled", "then"],
        [6, "sms", "sent", null],
      ]);
      const [text] = (await mailsTo(phone)).filter((m) => m.campaign === "abandoned_cart_adaptive");
      expect(text?.text).toContain("you left 1 item in your cart");
    } finally {
      await fetch(`${baseUrl()}/v1/admin/campaigns/abandoned_cart_adaptive`, {
        method: "PUT",
        headers: { authorization: "Bearer sk_demo", "content-type": "application/json" },
        body: JSON.stringify({ ...campaign, enabled: false }),
      });
    }
  });
});
