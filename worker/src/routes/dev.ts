import { Hono } from "hono";
import { isDev } from "../env";
import { advanceDevClock, now } from "../lib/clock";
import { fail, readJson } from "../lib/http";
import { backlog } from "../ingest/inbox";
import { isDict } from "../ingest/validate";
import { sweep } from "../jobs/sweep";
import { requireSecretKey } from "./auth";
import type { SecretEnv } from "./auth";

/** Development-only helpers; every route 404s unless NUDGE_ENV is "development". */
export const dev = new Hono<SecretEnv>();

dev.use("*", async (c, next) => {
  if (!isDev(c.env)) fail(404, "not_found", "Not found.");
  await next();
});
dev.use("*", requireSecretKey);

/** `POST /v1/dev/tick { at? }`: moves the clock forward to `at` and runs the scheduler then. */
dev.post("/tick", async (c) => {
  const body = await readJson(c.req.raw, 1024);
  if (!isDict(body)) fail(400, "invalid_body", 'Send a JSON object: { "at": "<ISO time>" }.');
  if (body.at !== undefined) {
    const at = typeof body.at === "string" ? Date.parse(body.at) : Number.NaN;
    if (!Number.isFinite(at)) fail(400, "invalid_at", "at must be an ISO 8601 time, e.g. 2026-11-24T09:00:00Z.");
    await advanceDevClock(c.env.DB, at);
  }
  const at = await now(c.env);
  const result = await sweep(c.env, at, new URL(c.req.url).origin);
  return c.json({ now: new Date(at).toISOString(), ...result });
});

/** `GET /v1/dev/clock`: the simulated time the demo panel shows. */
dev.get("/clock", async (c) => c.json({ now: new Date(await now(c.env)).toISOString() }));

/** `GET /v1/dev/backlog`: accepted batches and events not yet applied (the benchmark waits on it). */
dev.get("/backlog", async (c) => c.json(await backlog(c.env.DB)));
