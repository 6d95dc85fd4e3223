import { Hono } from "hono";
import * as v from "valibot";
import { directoryOf, isDev } from "../env";
import { advanceDevClock, forgetDevClock, now } from "../lib/clock";
import { fail } from "../lib/http";
import { readBody, readQuery } from "../lib/schema";
import { backlog } from "../ingest/inbox";
import { sweepHomes } from "../jobs/sweep";
import { DEMO_SITE, forgetCachedSites, updateSettings } from "../model/sites";
import { seedDemoPromotions } from "../promotions/demo";
import { requireSecretKey } from "./auth";
import type { SecretEnv } from "./auth";

/** Development-only helpers; every route 404s unless NUDGE_ENV is "development". */
export const dev = new Hono<SecretEnv>();

dev.use("*", async (c, next) => {
  if (!isDev(c.env)) fail(404, "not_found", "Not found.");
  await next();
});
dev.use("*", requireSecretKey);

const AT = "must be an ISO 8601 time, e.g. 2026-11-24T09:00:00Z.";

/** `POST /v1/dev/tick { at? }`: moves the clock forward to `at` and runs the scheduler then. */
dev.post("/tick", async (c) => {
  const body = await readBody(
    c.req.raw,
    1024,
    v.strictObject({
      at: v.optional(
        v.pipe(
          v.string(AT),
          v.transform((at) => Date.parse(at)),
          v.check((at) => Number.isFinite(at), AT),
        ),
      ),
    }),
    "invalid_at",
  );
  if (body.at !== undefined) await advanceDevClock(directoryOf(c.env), body.at);
  const at = await now(c.env);
  const result = await sweepHomes(c.env, at, new URL(c.req.url).origin);
  return c.json({ now: new Date(at).toISOString(), ...result });
});

/**
 * `GET|POST /v1/dev/settings { trustBrowserOrders }`: the demo site's trust setting, so the demo
 * panel can show both ways of reporting orders (the shop's server, or the browser on a site that
 * trusts it).
 */
dev.get("/settings", async (c) => c.json(c.get("site").settings));
dev.post("/settings", async (c) => {
  const body = await readBody(
    c.req.raw,
    1024,
    v.strictObject(
      { trustBrowserOrders: v.boolean("must be true or false.") },
      'Send { "trustBrowserOrders": true | false }.',
    ),
  );
  await updateSettings(c.env.DB, c.get("site").id, { trustBrowserOrders: body.trustBrowserOrders });
  return c.json({ trustBrowserOrders: body.trustBrowserOrders });
});

/** `GET /v1/dev/clock`: the simulated time the demo panel shows. */
dev.get("/clock", async (c) => c.json({ now: new Date(await now(c.env)).toISOString() }));

/** `GET /v1/dev/backlog`: accepted batches and events not yet applied (the benchmark waits on it). */
dev.get("/backlog", async (c) => c.json(await backlog(c.env.DB)));

/**
 * `POST /v1/dev/reset`: deletes everything the site has gathered (shoppers, events, messages…)
 * and rewinds the dev clock; the site and its configuration stay. Table names come from the
 * schema itself (every table with a site_id column), so new tables are covered without edits —
 * they are identifiers from sqlite_master, never request data.
 */
dev.post("/reset", async (c) => {
  const db = c.env.DB;
  const { results } = await db
    .prepare(
      `SELECT m.name FROM sqlite_master m
       WHERE m.type = 'table' AND m.name NOT IN ('sites', 'site_homes', 'campaigns', 'onsite_configs', 'segments') AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_cf_%'
         AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) p WHERE p.name = 'site_id')`,
    )
    .all<{ name: string }>();
  const tables = (results ?? []).map((r) => r.name).filter((name) => /^[a-z_][a-z0-9_]*$/.test(name));
  await db.batch([
    ...tables.map((t) => db.prepare(`DELETE FROM "${t}" WHERE site_id = ?`).bind(c.get("site").id)),
    // Campaigns are configuration and stay; date campaigns may run again on the rewound clock.
    db.prepare(`UPDATE campaigns SET launched_at = NULL WHERE site_id = ?`).bind(c.get("site").id),
    // Settings back to the demo's seeded ones too: orders from the shop's server only, its address.
    db
      .prepare(`UPDATE sites SET settings = ? WHERE id = ?`)
      .bind(JSON.stringify(c.get("site").id === DEMO_SITE.id ? (DEMO_SITE.settings ?? {}) : {}), c.get("site").id),
  ]);
  await directoryOf(c.env).prepare(`DELETE FROM dev_clock`).run();
  forgetCachedSites();
  forgetDevClock();
  // The demo's promotions and static codes are configuration: back to the defaults.
  await seedDemoPromotions(db, c.get("site").id, await now(c.env));
  return c.json({ now: new Date(await now(c.env)).toISOString(), cleared: tables });
});

/**
 * `GET /v1/dev/events?anonymousId=…&event=…`: the stored events of one visitor (message id and
 * properties), so a browser test can check that what the SDK sent arrived exactly once.
 */
dev.get("/events", async (c) => {
  const query = readQuery(
    c.req.url,
    v.strictObject({ anonymousId: v.optional(v.string()), event: v.optional(v.string()) }),
  );
  const anonymousId = query.anonymousId ?? "";
  const event = query.event ?? "";
  if (!anonymousId || anonymousId.length > 200 || event.length > 200)
    fail(400, "invalid_query", "Pass ?anonymousId=<id> (and optionally &event=<name>), each ≤ 200 characters.");
  const { results } = await c.env.DB.prepare(
    `SELECT message_id, properties FROM events
     WHERE site_id = ? AND anonymous_id = ? AND (? = '' OR event = ?) ORDER BY timestamp LIMIT 10000`,
  )
    .bind(c.get("site").id, anonymousId, event, event)
    .all<{ message_id: string; properties: string }>();
  return c.json({
    events: results.map((r) => ({ messageId: r.message_id, properties: JSON.parse(r.properties) as unknown })),
  });
});
