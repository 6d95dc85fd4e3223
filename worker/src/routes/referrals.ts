import { Hono } from "hono";
import * as v from "valibot";
import { now } from "../lib/clock";
import { fail } from "../lib/http";
import { readBody, readQuery, text } from "../lib/schema";
import { findContact } from "../model/privacy";
import { REFERRAL_OFFER, referralCode, referralUrl } from "../model/referrals";
import type { Site } from "../model/sites";
import { DEFAULT_PROMOTIONS } from "../promotions/defaults";
import { putPromotion } from "../promotions/store";
import { referralResults } from "../results/referrals";
import { requireSecretKey } from "./auth";
import type { SecretEnv } from "./auth";

/**
 * The referral programme, merchant side (mounted under /v1/admin): a referrer's code and link for
 * the shop's own pages (an account page, an order confirmation), and the programme's results. The
 * shopper side is `POST /v1/onsite/referral` (routes/onsite.ts), for customers only.
 */
export const referralsAdmin = new Hono<SecretEnv>();
referralsAdmin.use("*", requireSecretKey);

/** The contact's stable code and link; the friend's offer is created on the site if it is missing. */
export async function issueReferral(db: D1Database, site: Site, contactId: string, at: number) {
  const offer = DEFAULT_PROMOTIONS.get(REFERRAL_OFFER);
  if (offer) await putPromotion(db, site.id, offer, true, at, true).run();
  const code = await referralCode(db, site.id, contactId, at);
  return { code, url: referralUrl(site, code) };
}

const codeBody = v.pipe(
  v.strictObject(
    { email: v.optional(text(254)), userId: v.optional(text(200)) },
    "Send { email } or { userId }: the referrer.",
  ),
  v.check((b) => (b.email === undefined) !== (b.userId === undefined), "Name the referrer by one of email or userId."),
);

referralsAdmin.post("/codes", async (c) => {
  const ref = await readBody(c.req.raw, 2048, codeBody);
  const site = c.get("site");
  const contactId = await findContact(c.env.DB, site.id, ref);
  if (!contactId) fail(404, "not_found", "No contact with that email or userId: identify them first.");
  return c.json({ contactId, ...(await issueReferral(c.env.DB, site, contactId, await now(c.env))) });
});

referralsAdmin.get("/", async (c) => {
  const query = readQuery(c.req.url, v.strictObject({ limit: v.optional(v.string()) }));
  const limit = Math.min(Math.max(Number(query.limit ?? 50) || 50, 1), 200);
  const site = c.get("site");
  const results = await referralResults(c.env.DB, site.id, limit);
  return c.json({ currency: site.currency, rewardsPerMonth: site.settings.referralRewardsPerMonth, ...results });
});
