import { Hono } from "hono";
import * as v from "valibot";
import { now } from "../lib/clock";
import { fail } from "../lib/http";
import { readQuery } from "../lib/schema";
import { dropDeadLetter, listDeadLetters, retryDeadLetter } from "../model/dead-letters";
import type { DeadKind } from "../model/dead-letters";
import { requireSecretKey } from "./auth";
import type { SecretEnv } from "./auth";

/**
 * `/v1/admin/dead-letters`: the site's work that kept failing and was set aside (model/dead-letters.ts).
 * `GET ?kind=batch|event|message|webhook&limit=N` lists them, newest first; `POST /:id/retry` puts
 * one back to be tried again from scratch; `DELETE /:id` forgets it.
 */
export const deadLetters = new Hono<SecretEnv>();
deadLetters.use("*", requireSecretKey);

const KINDS: readonly DeadKind[] = ["batch", "event", "message", "webhook"];
const iso = (ms: number) => new Date(ms).toISOString();

deadLetters.get("/", async (c) => {
  const query = readQuery(
    c.req.url,
    v.strictObject({
      kind: v.optional(v.picklist(KINDS, `must be one of ${KINDS.join(", ")}.`)),
      limit: v.optional(v.string()),
    }),
    "invalid_kind",
  );
  const limit = Math.min(Math.max(Number(query.limit ?? 100) || 100, 1), 500);
  const rows = await listDeadLetters(c.env.DB, c.get("site").id, query.kind ?? null, limit);
  return c.json({ deadLetters: rows.map((r) => ({ ...r, created_at: iso(r.created_at) })) });
});

const idOf = (raw: string) => {
  const id = Number(raw);
  if (!Number.isSafeInteger(id) || id <= 0) fail(404, "dead_letter_not_found", "No such dead letter.");
  return id;
};

deadLetters.post("/:id/retry", async (c) => {
  const id = idOf(c.req.param("id"));
  if (!(await retryDeadLetter(c.env.DB, c.get("site").id, id, await now(c.env))))
    fail(404, "dead_letter_not_found", "No such dead letter.");
  return c.json({ retried: id });
});

deadLetters.delete("/:id", async (c) => {
  const id = idOf(c.req.param("id"));
  if (!(await dropDeadLetter(c.env.DB, c.get("site").id, id)))
    fail(404, "dead_letter_not_found", "No such dead letter.");
  return c.json({ dropped: id });
});
