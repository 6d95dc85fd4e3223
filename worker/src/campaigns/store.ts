import { DEFAULT_PROMOTIONS } from "../promotions/defaults";
import { putPromotion } from "../promotions/store";
import { type CampaignDef, parseDefinition } from "./definition";
import { messageSteps } from "./flow";
import { CAMPAIGN_TEMPLATES, SEEDED_DISABLED } from "./templates";

/**
 * Campaign definitions in D1. Ingest reads a site's campaigns for every event, so they are kept in
 * memory for a few seconds per isolate; a write through the admin API clears this isolate's copy,
 * and other isolates see it within CACHE_MS.
 */

const CACHE_MS = 5000;
const cache = new Map<string, { at: number; defs: CampaignDef[] }>();

export async function enabledCampaigns(db: D1Database, siteId: string): Promise<CampaignDef[]> {
  const hit = cache.get(siteId);
  if (hit && Date.now() - hit.at < CACHE_MS) return hit.defs;
  const { results } = await db
    .prepare(`SELECT id, definition FROM campaigns WHERE site_id = ? AND enabled = 1 ORDER BY id`)
    .bind(siteId)
    .all<{ id: string; definition: string }>();
  const defs: CampaignDef[] = [];
  for (const row of results ?? []) {
    try {
      defs.push(parseDefinition(JSON.parse(row.definition), row.id));
    } catch (e) {
      // Stored definitions were validated on write; one broken by a later rule change is skipped, not fatal.
      console.error(`campaign ${siteId}/${row.id} skipped`, e);
    }
  }
  cache.set(siteId, { at: Date.now(), defs });
  return defs;
}

export async function campaignById(db: D1Database, siteId: string, id: string): Promise<CampaignDef | null> {
  return (await enabledCampaigns(db, siteId)).find((d) => d.id === id) ?? null;
}

/**
 * The promotions a campaign's steps mint codes for that have a built-in default
 * (promotions/defaults.ts): saving the campaign creates those missing on the site, so its codes
 * are accepted at checkout on a fresh site too.
 */
export const templatePromotions = (def: CampaignDef) =>
  messageSteps(def).flatMap((s) => {
    const p = s.coupon && DEFAULT_PROMOTIONS.get(s.coupon.promotionId);
    return p ? [p] : [];
  });

/** Creates or replaces a campaign (already validated), with the default promotions it needs. */
export async function saveCampaign(db: D1Database, siteId: string, def: CampaignDef, enabled: boolean, now: number) {
  await db.batch([
    ...templatePromotions(def).map((p) => putPromotion(db, siteId, p, true, now, true)),
    db
      .prepare(
        `INSERT INTO campaigns (site_id, id, definition, enabled, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT DO UPDATE SET definition = excluded.definition, enabled = excluded.enabled,
         updated_at = excluded.updated_at,
         launched_at = CASE WHEN json_extract(definition, '$.trigger') IS json_extract(excluded.definition, '$.trigger')
                            THEN launched_at END`,
      )
      .bind(siteId, def.id, JSON.stringify(def), enabled ? 1 : 0, now),
  ]);
  cache.delete(siteId);
}

export async function deleteCampaign(db: D1Database, siteId: string, id: string): Promise<boolean> {
  const r = await db.prepare(`DELETE FROM campaigns WHERE site_id = ? AND id = ?`).bind(siteId, id).run();
  cache.delete(siteId);
  return (r.meta.changes ?? 0) > 0;
}

/**
 * Built-in template `id` with the merchant's overrides on top, validated by `parse` (the admin API
 * answers a 400 naming the field); saved with `saveCampaign`.
 */
export function templateDefinition(
  id: string,
  overrides: Record<string, unknown>,
  parse: (input: unknown) => CampaignDef = (input) => parseDefinition(input),
): CampaignDef | null {
  const template = CAMPAIGN_TEMPLATES[id];
  return template ? parse({ ...template, ...overrides, id }) : null;
}

/** Development: the demo site starts with every template (but SEEDED_DISABLED) enabled, unless the merchant changed it. */
export async function seedTemplates(db: D1Database, siteId: string, now: number): Promise<void> {
  await db.batch(
    Object.entries(CAMPAIGN_TEMPLATES).map(([id, t]) =>
      db
        .prepare(
          `INSERT INTO campaigns (site_id, id, definition, enabled, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        )
        .bind(siteId, id, JSON.stringify(parseDefinition({ ...t, id })), SEEDED_DISABLED.has(id) ? 0 : 1, now),
    ),
  );
  cache.delete(siteId);
}
