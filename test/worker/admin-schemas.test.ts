import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { BASE, SECRET, uid } from "./helpers";

/**
 * Every admin, operator and development endpoint that takes a body or a query refuses a field it
 * does not know with a 400 naming it and where it is: a misspelt field must never be ignored
 * (a promotion posted with `condtions` once applied to every cart). One row per endpoint.
 */

const OPERATOR = { authorization: "Bearer test-operator-token" };
const JSON_TYPE = { "content-type": "application/json" };
const promotion = { id: "strict-door", action: { type: "percent_off_order", percent: 10 } };
const campaign = { trigger: { type: "cart" }, steps: [{ delay: "1h", template: "welcome" }] };
let siteId = "";

beforeAll(async () => {
  const res = await SELF.fetch(`${BASE}/v1/operator/sites`, {
    method: "POST",
    headers: { ...OPERATOR, ...JSON_TYPE },
    body: JSON.stringify({ name: "Strict shop", url: "https://strict.example" }),
  });
  siteId = (await res.json<{ site: { id: string } }>()).site.id;
});

type Row = [method: string, path: () => string, body: unknown, headers: Record<string, string>, field: string];

const rows: Record<string, Row> = {
  // Admin API: bodies.
  "POST /v1/admin/promotions": [
    "POST",
    () => "/v1/admin/promotions",
    { ...promotion, condtions: {} },
    SECRET,
    "promotion.condtions",
  ],
  "PUT /v1/admin/promotions/:id": [
    "PUT",
    () => "/v1/admin/promotions/strict-door",
    { ...promotion, conditions: { minSubtotl: 5000 } },
    SECRET,
    "promotion.conditions.minSubtotl",
  ],
  "POST /v1/admin/coupons": [
    "POST",
    () => "/v1/admin/coupons",
    { promotionId: "exit-intent-10", cout: 3 },
    SECRET,
    "coupon.cout",
  ],
  "PUT /v1/admin/campaigns/:id": [
    "PUT",
    () => "/v1/admin/campaigns/strict-door",
    { ...campaign, steps: [{ template: "welcome", delay_ms: 0 }] },
    SECRET,
    "campaign.steps[0].delay_ms",
  ],
  "POST /v1/admin/campaigns/templates/:id/enable": [
    "POST",
    () => "/v1/admin/campaigns/templates/welcome/enable",
    { holdout_percent: 10 },
    SECRET,
    "campaign.holdout_percent",
  ],
  "PUT /v1/admin/campaigns/:id (content)": [
    "PUT",
    () => "/v1/admin/campaigns/strict-door",
    { ...campaign, steps: [{ template: "welcome", content: { fr: { intro: "Bonjour", body: "x" } } }] },
    SECRET,
    "campaign.steps[0].content.fr.body",
  ],
  "POST /v1/admin/campaigns/preview": [
    "POST",
    () => "/v1/admin/campaigns/preview",
    { template: "welcome", content: { intro: "Hi", footer: "x" } },
    SECRET,
    "content.footer",
  ],
  "PUT /v1/admin/branding": [
    "PUT",
    () => "/v1/admin/branding",
    { brandColour: "#ffffff" },
    SECRET,
    "branding.brandColour",
  ],
  "POST /v1/admin/campaigns/audience": [
    "POST",
    () => "/v1/admin/campaigns/audience",
    { segment: { opted_in: true }, limit: 1 },
    SECRET,
    "limit",
  ],
  "PUT /v1/admin/onsite": [
    "PUT",
    () => "/v1/admin/onsite",
    { config: { widgets: [{ id: "w", type: "newsletter", trigger: { on: "load", after: 3 } }] } },
    SECRET,
    "config.widgets[0].trigger.after",
  ],
  "PATCH /v1/admin/callbacks/:id": [
    "PATCH",
    () => "/v1/admin/callbacks/1",
    { status: "done", note: "x" },
    SECRET,
    "note",
  ],
  "PUT /v1/admin/products/:id": [
    "PUT",
    () => "/v1/admin/products/strict-door",
    { name: "Door", price: 100, colour: "red" },
    SECRET,
    "colour",
  ],
  "POST /v1/admin/session": [
    "POST",
    () => "/v1/admin/session",
    { key: "sk_demo", remember: true },
    { origin: BASE },
    "remember",
  ],
  "POST /v1/admin/dashboard/price": [
    "POST",
    () => "/v1/admin/dashboard/price",
    { lines: [], cupon: "DISC10" },
    SECRET,
    "cupon",
  ],
  // Admin API: queries.
  "GET /v1/admin/outbox": ["GET", () => "/v1/admin/outbox?limit=5&campaing=x", undefined, SECRET, "campaing"],
  "GET /v1/admin/contacts": ["GET", () => "/v1/admin/contacts?email=a@example.com&emial=x", undefined, SECRET, "emial"],
  "GET /v1/admin/coupons": [
    "GET",
    () => "/v1/admin/coupons?promotion_id=exit-intent-10",
    undefined,
    SECRET,
    "promotion_id",
  ],
  "GET /v1/admin/campaigns/:id/results": [
    "GET",
    () => "/v1/admin/campaigns/abandoned_cart/results?day=7",
    undefined,
    SECRET,
    "day",
  ],
  "GET /v1/admin/campaigns/preview/email": [
    "GET",
    () => `/v1/admin/campaigns/preview/email?q=${encodeURIComponent('{"template":"welcome"}')}&locale=fr`,
    undefined,
    SECRET,
    "locale",
  ],
  "GET /v1/admin/dashboard/overview": ["GET", () => "/v1/admin/dashboard/overview?day=7", undefined, SECRET, "day"],
  "GET /v1/admin/dashboard/contacts": ["GET", () => "/v1/admin/dashboard/contacts?query=a", undefined, SECRET, "query"],
  "GET /v1/admin/dead-letters": ["GET", () => "/v1/admin/dead-letters?kinds=batch", undefined, SECRET, "kinds"],
  "GET /v1/admin/callbacks": ["GET", () => "/v1/admin/callbacks?state=open", undefined, SECRET, "state"],
  "GET /v1/admin/referrals": ["GET", () => "/v1/admin/referrals?limt=5", undefined, SECRET, "limt"],
  "POST /v1/admin/referrals/codes": [
    "POST",
    () => "/v1/admin/referrals/codes",
    { email: "a@example.com", emial: "x" },
    SECRET,
    "emial",
  ],
  "PUT /v1/admin/segments/:id": [
    "PUT",
    () => "/v1/admin/segments/open-carts",
    { name: "Open carts", rule: { open_cart: true }, rulez: 1 },
    SECRET,
    "rulez",
  ],
  "GET /v1/admin/segments/:id/members": [
    "GET",
    () => "/v1/admin/segments/open-carts/members?format=csv&fromat=google",
    undefined,
    SECRET,
    "fromat",
  ],
  // Operator API.
  "POST /v1/operator/sites": [
    "POST",
    () => "/v1/operator/sites",
    { name: "Shop", url: "https://shop.example", colour: "red" },
    OPERATOR,
    "colour",
  ],
  "PATCH /v1/operator/sites/:id": [
    "PATCH",
    () => `/v1/operator/sites/${siteId}`,
    { senderNmae: "Shop" },
    OPERATOR,
    "senderNmae",
  ],
  "POST /v1/operator/sites/:id/move": [
    "POST",
    () => `/v1/operator/sites/${siteId}/move`,
    { to: "DB_TWO", too: "DB" },
    OPERATOR,
    "too",
  ],
  // Development routes.
  "POST /v1/dev/tick": ["POST", () => "/v1/dev/tick", { when: "2026-01-01T00:00:00Z" }, SECRET, "when"],
  "POST /v1/dev/settings": [
    "POST",
    () => "/v1/dev/settings",
    { trustBrowserOrders: false, trust: true },
    SECRET,
    "trust",
  ],
  "GET /v1/dev/events": ["GET", () => `/v1/dev/events?anonymousId=${uid("aid")}&evnt=x`, undefined, SECRET, "evnt"],
  "POST /v1/demo-shop/orders": [
    "POST",
    () => "/v1/demo-shop/orders",
    { anonymousId: uid("aid"), order: { order_id: uid("ord") }, emial: "a@example.com" },
    {},
    "emial",
  ],
};

describe("strict doors: unknown fields", () => {
  it.each(Object.entries(rows))("should refuse an unknown field on %s with a 400 naming it", async (_, row) => {
    const [method, path, body, headers, field] = row;
    const res = await SELF.fetch(`${BASE}${path()}`, {
      method,
      headers: { ...headers, ...(body === undefined ? {} : JSON_TYPE) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: { code: "unknown_field", message: `${field} is not a known field.`, field },
    });
  });
});
