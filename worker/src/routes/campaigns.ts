import { Hono } from "hono";
import * as v from "valibot";
import { campaignSchema, parseDefinition, withId } from "../campaigns/definition";
import type { CampaignDef, UrlCheck } from "../campaigns/definition";
import { isDev } from "../env";
import type { Env } from "../env";
import { webhookUrlProblem } from "../lib/hosts";
import { deleteCampaign, saveCampaign, templateDefinition, templatePromotions } from "../campaigns/store";
import { missingSetup } from "../channels";
import { nodes } from "../campaigns/flow";
import { CAMPAIGN_TEMPLATES } from "../campaigns/templates";
import { brandingOf, brandingWarnings } from "../campaigns/branding";
import { previewMessage, previewSchema } from "../campaigns/preview";
import { MESSAGE_TEMPLATES, PLACEHOLDERS } from "../campaigns/messages";
import { now } from "../lib/clock";
import { fail } from "../lib/http";
import { parseOr400, readBody, readQuery } from "../lib/schema";
import type { Site } from "../model/sites";
import { getPromotion } from "../promotions/store";
import { compileRule, parseRule, RuleError } from "../segments/rules";
import { campaignResults } from "../results/campaign";
import { rangeQuery, resultsRange } from "../results/range";
import { requireSecretKey } from "./auth";
import type { SecretEnv } from "./auth";

/** `/v1/admin/campaigns`: campaign definitions, built-in templates, results, audience counts. */
export const campaigns = new Hono<SecretEnv>();
campaigns.use("*", requireSecretKey);

const LIMIT = 64 * 1024;
const OVERRIDES = "Send a JSON object of fields to override, or nothing.";

/** A campaign's fields (checked by `campaignSchema`) and whether it runs. */
const putBody = v.looseObject(
  { enabled: v.optional(v.boolean("must be true or false.")) },
  "Send a campaign definition.",
);

/** `?from=&to=` (ISO dates or times) or `?days=`, and `?mde=`. */
const resultsQuery = v.strictObject({ ...rangeQuery, mde: v.optional(v.string()) });

/**
 * An enabled campaign must be sendable: every step's channel configured in this deployment (400
 * naming the missing secret — production sends nothing into a table), and every coupon step's
 * promotion on the site or created with it (a built-in default, see campaigns/store.ts).
 */
async function requireSendable(env: Env, site: Site, def: CampaignDef) {
  for (const node of nodes(def)) {
    if (node.kind !== "message") continue;
    const { step, n } = node;
    const missing = missingSetup(env, site, step.channel);
    if (missing) fail(400, "channel_not_configured", `Step ${n} (${step.channel}): ${missing}`);
    const id = step.coupon?.promotionId;
    if (id && !templatePromotions(def).some((p) => p.id === id) && !(await getPromotion(env.DB, site.id, id)))
      fail(400, "unknown_promotion", `Step ${n}: no promotion "${id}" on this site; create it first.`);
  }
}

/** What to fix before this campaign's email goes out in bulk (a missing postal address). */
const warningsFor = (site: Site, def: CampaignDef) =>
  nodes(def).some((node) => node.kind === "message" && node.step.channel === "email")
    ? brandingWarnings(brandingOf(site.settings))
    : [];

campaigns.get("/", async (c) => {
  const { results } = await c.env.DB.prepare(
    `SELECT id, definition, enabled, launched_at, updated_at FROM campaigns WHERE site_id = ? ORDER BY id`,
  )
    .bind(c.get("site").id)
    .all<{ id: string; definition: string; enabled: number; launched_at: number | null; updated_at: number }>();
  return c.json({
    campaigns: (results ?? []).map((r) => ({
      ...(JSON.parse(r.definition) as object),
      enabled: r.enabled === 1,
      launchedAt: r.launched_at === null ? null : new Date(r.launched_at).toISOString(),
    })),
  });
});

/** The built-in templates, one per scenario, as they would be enabled. */
campaigns.get("/templates", (c) =>
  c.json({ templates: Object.entries(CAMPAIGN_TEMPLATES).map(([id, t]) => ({ id, ...t })) }),
);

/** One call enables a scenario: `POST /templates/abandoned_cart/enable` with optional overrides. */
campaigns.post("/templates/:id/enable", async (c) => {
  const id = c.req.param("id");
  if (!CAMPAIGN_TEMPLATES[id])
    fail(404, "unknown_template", `No template "${id}".`, { templates: Object.keys(CAMPAIGN_TEMPLATES) });
  // The body (overrides) is optional: `curl -X POST …/enable` alone enables the template as it is.
  const empty = c.req.raw.body === null || c.req.header("content-length") === "0";
  const overrides = empty ? {} : await readBody(c.req.raw, LIMIT, v.record(v.string(), v.unknown(), OVERRIDES));
  const def = templateDefinition(id, overrides, (input) =>
    parseOr400(campaignSchema(), input, "invalid_campaign", "campaign"),
  );
  if (!def) fail(404, "unknown_template", `No template "${id}".`);
  await requireSendable(c.env, c.get("site"), def);
  await saveCampaign(c.env.DB, c.get("site").id, def, true, await now(c.env));
  return c.json({ campaign: def, enabled: true, warnings: warningsFor(c.get("site"), def) }, 201);
});

/** Counts the contacts a segment matches right now (compiled to SQL; the same rule campaigns use). */
campaigns.post("/audience", async (c) => {
  const { segment } = await readBody(c.req.raw, LIMIT, v.strictObject({ segment: v.unknown() }));
  let rule: ReturnType<typeof parseRule>;
  try {
    rule = parseRule(segment);
  } catch (e) {
    if (e instanceof RuleError) fail(400, "invalid_segment", e.message);
    throw e;
  }
  const { sql, params } = compileRule(rule, await now(c.env));
  const row = await c.env.DB.prepare(`SELECT count(*) AS n FROM contacts c WHERE c.site_id = ? AND ${sql}`)
    .bind(c.get("site").id, ...params)
    .first<{ n: number }>();
  return c.json({ count: row?.n ?? 0 });
});

/** The message templates a step may use, with their built-in words per locale (the editor's placeholders). */
campaigns.get("/messages", (c) =>
  c.json({
    messages: [...MESSAGE_TEMPLATES].map(([id, t]) => ({ id, block: t.block, cta: t.cta, copy: t.copy })),
    placeholders: PLACEHOLDERS,
  }),
);

/**
 * `POST /preview { template, locale?, subject?, content?, coupon?, branding? }`: the email (subject,
 * HTML, text), the SMS (with its segment count) and the call script a step would send, drawn by the
 * real renderers with sample data from the site's catalogue. Nothing is stored or sent.
 */
campaigns.post("/preview", async (c) => {
  const input = await readBody(c.req.raw, LIMIT, previewSchema, "invalid_preview");
  return c.json(await previewMessage(c.env.DB, c.get("site"), input));
});

/**
 * The dashboard's iframe: `GET /preview/email?q=<the POST body as JSON>` answers the email itself as
 * a page with its own policy — the email's inline styles and the merchant's https images may load,
 * nothing may run (CSP `sandbox`, no script source), and only the dashboard may frame it. A `srcdoc`
 * frame would inherit the dashboard's policy, which rightly refuses inline styles and foreign images.
 */
campaigns.get("/preview/email", async (c) => {
  const { q } = readQuery(c.req.url, v.strictObject({ q: v.pipe(v.string(), v.maxLength(8000)) }));
  let body: unknown;
  try {
    body = JSON.parse(q);
  } catch {
    fail(400, "invalid_preview", "q must be the preview request as JSON.");
  }
  const preview = await previewMessage(c.env.DB, c.get("site"), parseOr400(previewSchema, body, "invalid_preview"));
  return c.body(preview.html, 200, {
    "content-type": "text/html; charset=utf-8",
    "content-security-policy":
      "default-src 'none'; img-src 'self' https: data:; style-src 'unsafe-inline'; sandbox; frame-ancestors 'self'; base-uri 'none'; form-action 'none'",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
  });
});

campaigns.get("/:id", async (c) => {
  const row = await c.env.DB.prepare(`SELECT definition, enabled FROM campaigns WHERE site_id = ? AND id = ?`)
    .bind(c.get("site").id, c.req.param("id"))
    .first<{ definition: string; enabled: number }>();
  if (!row) fail(404, "not_found", "No such campaign.");
  return c.json({ campaign: JSON.parse(row.definition) as object, enabled: row.enabled === 1 });
});

/** Creates or replaces a campaign; `enabled: false` in the body pauses it. */
campaigns.put("/:id", async (c) => {
  const { enabled = true, ...fields } = await readBody(c.req.raw, LIMIT, putBody);
  const checkUrl: UrlCheck = (url) => webhookUrlProblem(url, isDev(c.env));
  const def = parseOr400(campaignSchema(checkUrl), withId(fields, c.req.param("id")), "invalid_campaign", "campaign");
  if (enabled) await requireSendable(c.env, c.get("site"), def);
  await saveCampaign(c.env.DB, c.get("site").id, def, enabled, await now(c.env));
  return c.json({ campaign: def, enabled, warnings: warningsFor(c.get("site"), def) });
});

campaigns.delete("/:id", async (c) => {
  if (!(await deleteCampaign(c.env.DB, c.get("site").id, c.req.param("id"))))
    fail(404, "not_found", "No such campaign.");
  return c.json({ deleted: true });
});

/**
 * Results per group (variant, holdout), per step and per day, compared per recipient over the same
 * window from journey start, with lift, confidence intervals and the A/B verdict (results/campaign.ts).
 * `?from=&to=` (ISO dates or times) bound when journeys started; `?mde=0.1` the relative lift to size for.
 */
campaigns.get("/:id/results", async (c) => {
  const site = c.get("site").id;
  const row = await c.env.DB.prepare(`SELECT definition FROM campaigns WHERE site_id = ? AND id = ?`)
    .bind(site, c.req.param("id"))
    .first<{ definition: string }>();
  if (!row) fail(404, "not_found", "No such campaign.");
  const query = readQuery(c.req.url, resultsQuery);
  const def = parseDefinition(JSON.parse(row.definition), c.req.param("id"));
  const range = resultsRange(query.from, query.to, await now(c.env), query.days);
  const mde = Number(query.mde ?? "0.1");
  if (!(mde > 0 && mde <= 10)) fail(400, "invalid_mde", "mde is a relative lift between 0 and 10, e.g. 0.1 for +10 %.");
  return c.json(await campaignResults(c.env.DB, site, def, range, mde));
});
