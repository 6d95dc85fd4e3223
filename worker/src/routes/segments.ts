import { Hono } from "hono";
import * as v from "valibot";
import type { Env } from "../env";
import { homeDatabase, homeNames } from "../env";
import { catchUp } from "../ingest/process";
import { now } from "../lib/clock";
import { fail } from "../lib/http";
import { publicBase } from "../lib/links";
import { readBody, readQuery, text } from "../lib/schema";
import {
  AUDIENCE_FORMATS,
  audienceFile,
  deleteSegment,
  listSegments,
  revokeFeedToken,
  rotateFeedToken,
  saveSegment,
  segmentByFeedToken,
  segmentById,
} from "../segments/audiences";
import { parseRule, RuleError } from "../segments/rules";
import { requireSecretKey, routeToSite } from "./auth";
import type { SecretEnv } from "./auth";

/**
 * `/v1/admin/segments`: named segments and their audiences for ad platforms (segments/audiences.ts);
 * `/v1/audiences/<token>`: the same file for an ad platform's or a script's scheduled pull.
 */
export const segmentsAdmin = new Hono<SecretEnv>();
segmentsAdmin.use("*", requireSecretKey);

const ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;
/** The rule is checked by the segment rule language's own parser, which names the rule's path. */
const SEGMENT = v.strictObject({
  name: v.pipe(text(100), v.trim(), v.minLength(1, "must not be blank.")),
  rule: v.unknown(),
});
const FORMAT = v.strictObject({
  format: v.optional(v.picklist(AUDIENCE_FORMATS, `must be one of ${AUDIENCE_FORMATS.join(", ")}.`), "csv"),
});

function segmentId(id: string): string {
  if (!ID.test(id)) fail(400, "invalid_id", "A segment id is 1-64 lower-case letters, digits, _ or -.");
  return id;
}

function file(body: ReadableStream<Uint8Array>, name: string): Response {
  return new Response(body, {
    headers: {
      "content-type": "text/csv; charset=utf-8",
      "content-disposition": `attachment; filename="${name}.csv"`,
      "cache-control": "no-store",
    },
  });
}

/** `GET /v1/admin/segments`: the site's named segments (count members with `POST /v1/admin/campaigns/audience`). */
segmentsAdmin.get("/", async (c) => {
  const site = c.get("site");
  return c.json({ segments: await listSegments(c.env.DB, site.id) });
});

/** `PUT /v1/admin/segments/:id { name, rule }`: creates or replaces a named segment. */
segmentsAdmin.put("/:id", async (c) => {
  const id = segmentId(c.req.param("id"));
  const body = await readBody(c.req.raw, 16 * 1024, SEGMENT, "invalid_segment");
  let rule: ReturnType<typeof parseRule>;
  try {
    rule = parseRule(body.rule, "rule");
  } catch (e) {
    if (e instanceof RuleError) fail(400, "invalid_segment", e.message);
    throw e;
  }
  const saved = await saveSegment(c.env.DB, c.get("site").id, { id, name: body.name, rule }, await now(c.env));
  return c.json({ segment: saved });
});

segmentsAdmin.delete("/:id", async (c) => {
  if (!(await deleteSegment(c.env.DB, c.get("site").id, segmentId(c.req.param("id")))))
    fail(404, "not_found", "No such segment.");
  return c.json({ deleted: true });
});

/** `GET /v1/admin/segments/:id/members?format=csv|google|meta|tiktok`: the audience file. */
segmentsAdmin.get("/:id/members", async (c) => {
  const site = c.get("site");
  const { format } = readQuery(c.req.url, FORMAT);
  const segment = await segmentById(c.env.DB, site.id, segmentId(c.req.param("id")));
  if (!segment) fail(404, "not_found", "No such segment.");
  await catchUp(c.env.DB, await now(c.env), "audiences");
  return file(audienceFile(c.env.DB, site.id, segment.rule, format, await now(c.env)), `${segment.id}-${format}`);
});

/**
 * `POST /v1/admin/segments/:id/feed`: a new pull URL for the audience (any earlier one stops
 * working); `DELETE` removes it. The URL carries a 256-bit token and is shown only here.
 */
segmentsAdmin.post("/:id/feed", async (c) => {
  const site = c.get("site");
  const token = await rotateFeedToken(c.env.DB, site.id, segmentId(c.req.param("id")));
  if (!token) fail(404, "not_found", "No such segment.");
  const base = publicBase(c.env, site) ?? new URL(c.req.url).origin;
  const url = `${base}/v1/audiences/${token}`;
  return c.json({ url, formats: Object.fromEntries(AUDIENCE_FORMATS.map((f) => [f, `${url}?format=${f}`])) }, 201);
});

segmentsAdmin.delete("/:id/feed", async (c) => {
  if (!(await revokeFeedToken(c.env.DB, c.get("site").id, segmentId(c.req.param("id")))))
    fail(404, "not_found", "No such segment.");
  return c.json({ revoked: true });
});

/** `GET /v1/audiences/<token>?format=…`: the audience file, for scheduled pulls. */
export const audiences = new Hono<{ Bindings: Env }>();
/**
 * The segment of a pull URL, with `c.env` routed to its site's database. The URL names no site, so
 * each database is asked (one indexed read each; ad platforms pull a few times a day); a copy left
 * in a database the site has moved out of does not count.
 */
async function feedOf(c: { env: Env }, token: string) {
  for (const home of homeNames(c.env)) {
    const db = homeDatabase(c.env, home);
    const found = db && (await segmentByFeedToken(db, token));
    if (found && (await routeToSite(c, found.siteId)) && c.env.HOME === home) return found;
  }
  return null;
}

audiences.get("/:token", async (c) => {
  const { format } = readQuery(c.req.url, FORMAT);
  const found = await feedOf(c, c.req.param("token"));
  if (!found) fail(404, "not_found", "No audience at this address (the URL may have been replaced).");
  await catchUp(c.env.DB, await now(c.env), "audiences");
  return file(
    audienceFile(c.env.DB, found.siteId, found.segment.rule, format, await now(c.env)),
    `${found.segment.id}-${format}`,
  );
});
