import { Hono } from "hono";
import * as v from "valibot";
import type { Context } from "hono";
import { now } from "../lib/clock";
import { fail } from "../lib/http";
import { readQuery } from "../lib/schema";
import { catchUp } from "../ingest/process";
import { profile } from "../model/contacts";
import { eraseContact, exportContact, findContact } from "../model/privacy";
import { requireSecretKey } from "./auth";
import type { SecretEnv } from "./auth";

/**
 * `/v1/admin/contacts`: look a contact up, export everything stored about them, erase them.
 * Export and erasure first try to apply any accepted-but-unapplied batches, so nothing sent before
 * the request escapes them — a short pass, and never a condition: a batch the inbox cannot apply
 * (set aside after a few tries) must not stand between a person and their rights.
 */
export const contacts = new Hono<SecretEnv>();
contacts.use("*", requireSecretKey);

const REF_FIELDS = ["email", "userId", "anonymousId"] as const;
const lookup = v.strictObject(Object.fromEntries(REF_FIELDS.map((f) => [f, v.optional(v.string())])));

/** `GET /v1/admin/contacts?email=…|userId=…|anonymousId=…`: the contact's profile and aggregates. */
contacts.get("/", async (c) => {
  const query = readQuery(c.req.url, lookup);
  const field = REF_FIELDS.find((f) => query[f]);
  const value = field ? (query[field] ?? "") : "";
  if (!field || value.length > 254)
    fail(400, "invalid_query", "Look a contact up by one of email, userId or anonymousId.");
  const site = c.get("site");
  const id = await findContact(c.env.DB, site.id, { [field]: value });
  const found = id ? await profile(c.env.DB, site.id, id, await now(c.env)) : null;
  if (!found) fail(404, "contact_not_found", `No contact with that ${field}.`);
  return c.json({ contact: found });
});

async function contactOr404(c: Context<SecretEnv>, id: string) {
  if (id.length > 200) fail(404, "contact_not_found", "No such contact.");
  await catchUp(c.env.DB, await now(c.env), "contacts: export/erasure");
  const found = await findContact(c.env.DB, c.get("site").id, { id });
  if (!found) fail(404, "contact_not_found", "No such contact.");
  return found;
}

contacts.get("/:id", async (c) => {
  const site = c.get("site");
  const found = await profile(c.env.DB, site.id, c.req.param("id").slice(0, 201), await now(c.env));
  if (!found) fail(404, "contact_not_found", "No such contact.");
  return c.json({ contact: found });
});

/** Everything stored about the contact, by table (the right of access). */
contacts.get("/:id/export", async (c) => {
  const id = await contactOr404(c, c.req.param("id"));
  const exported = await exportContact(c.env.DB, c.get("site").id, id);
  c.header("content-disposition", `attachment; filename="contact-${id.replace(/[^\w-]/g, "")}.json"`);
  return c.json({ exportedAt: new Date(await now(c.env)).toISOString(), ...exported });
});

/** Erases the contact and everything stored about them, in one transaction. */
contacts.delete("/:id", async (c) => {
  const id = await contactOr404(c, c.req.param("id"));
  return c.json({ erased: id, deleted: await eraseContact(c.env.DB, c.get("site").id, id) });
});
