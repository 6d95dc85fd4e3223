import { Hono } from "hono";
import { brandingOf, brandingSchema, brandingWarnings } from "../campaigns/branding";
import { readBody } from "../lib/schema";
import { siteById, updateSettings } from "../model/sites";
import { requireSecretKey } from "./auth";
import type { SecretEnv } from "./auth";

/**
 * `/v1/admin/branding`: the logo, colour, footer and postal address every email of the site carries
 * (campaigns/branding.ts). GET reads them; PUT changes the fields it names ("" clears one). Both
 * answer `warnings`: what bulk mail still lacks (a postal address).
 */
export const branding = new Hono<SecretEnv>();
branding.use("*", requireSecretKey);

branding.get("/", (c) => {
  const b = brandingOf(c.get("site").settings);
  return c.json({ branding: b, warnings: brandingWarnings(b) });
});

branding.put("/", async (c) => {
  const patch = await readBody(c.req.raw, 4096, brandingSchema, "invalid_branding", "branding");
  await updateSettings(c.env.DB, c.get("site").id, patch);
  const site = await siteById(c.env.DB, c.get("site").id);
  const b = brandingOf(site?.settings ?? c.get("site").settings);
  return c.json({ branding: b, warnings: brandingWarnings(b) });
});
