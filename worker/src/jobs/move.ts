import type { Env } from "../env";
import { directoryOf, homeDatabase } from "../env";
import { fail } from "../lib/http";
import { forgetPlacements, placementOf, SITE_CACHE_MS } from "../model/directory";
import type { Placement } from "../model/directory";

/**
 * Moving a site to another database (the operator's `POST /v1/operator/sites/:id/move`, driven by
 * `npm run site:move`). Each call does a bounded step and says what is left, so a site of any size
 * moves in Worker-sized pieces, and a step that fails is simply called again:
 *
 * 1. pause — the directory marks the site moving: its requests get 503 (the SDK and Segment's
 *    libraries retry), its Queue jobs wait, and the sweep leaves both homes alone. Copying starts
 *    PAUSE_MS later, when no isolate still routes by what it cached before the pause.
 * 2. copy — table by table in key order, 100 rows per transaction, resuming after the last row the
 *    new home already has; plain INSERTs, so a row id another site already uses in the new home
 *    stops the move with a 409 instead of being skipped (abort then cleans the copy up).
 * 3. switch — one directory write: the site lives in the new home from the next request on.
 * 4. cleanup — the old home's copy is deleted in bounded steps; until then the sweep leaves that
 *    home alone, so nothing is sent twice from the stale copy.
 */

/** Past SITE_CACHE_MS, with room for a request or Queue delivery that read the old placement. */
export const PAUSE_MS = SITE_CACHE_MS + 20_000;
const ROWS_PER_WRITE = 100;
const STEP_BUDGET_MS = 10_000;

/** Tables that are no site's data: the directory's own, shared counters, D1's bookkeeping. */
const NOT_SITE_DATA = new Set(["site_homes", "admin_sessions", "rate_limits", "dev_clock", "d1_migrations"]);

interface Table {
  name: string;
  columns: string[];
  key: string[];
  siteColumn: string;
}

export interface MoveState {
  state: "paused" | "copying" | "cleaning" | "done";
  home: string;
  movingTo?: string;
  /** Rows written (copy) or deleted (cleanup) by this step. */
  rows?: number;
  /** Seconds until the next step can do anything. */
  retryAfter?: number;
}

/** The site's tables, `sites` (its own row) first; read from the database, so new tables move too. */
async function siteTables(db: D1Database): Promise<Table[]> {
  const { results } = await db
    .prepare(
      `SELECT m.name AS t, p.name AS col, p.pk FROM sqlite_master m JOIN pragma_table_info(m.name) p
       WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_cf_%'
       ORDER BY m.name, p.cid`,
    )
    .all<{ t: string; col: string; pk: number }>();
  const tables = new Map<string, { columns: string[]; key: [number, string][] }>();
  for (const r of results ?? []) {
    if (NOT_SITE_DATA.has(r.t) || !/^[a-z_][a-z0-9_]*$/.test(r.t) || !/^[a-z_][a-z0-9_]*$/.test(r.col)) continue;
    const table = tables.get(r.t) ?? { columns: [], key: [] };
    table.columns.push(r.col);
    if (r.pk > 0) table.key.push([r.pk, r.col]);
    tables.set(r.t, table);
  }
  const found: Table[] = [];
  for (const [name, t] of tables) {
    const siteColumn = name === "sites" ? "id" : "site_id";
    if (!t.columns.includes(siteColumn)) continue;
    if (t.key.length === 0 || t.columns.length > 90) throw new Error(`table ${name} cannot be moved row by row`);
    found.push({ name, columns: t.columns, key: t.key.sort((a, b) => a[0] - b[0]).map(([, col]) => col), siteColumn });
  }
  return found.sort((a, b) => (a.name === "sites" ? -1 : b.name === "sites" ? 1 : a.name.localeCompare(b.name)));
}

/**
 * Columns written as a value rather than copied. `event_contexts.refs` counts the events pointing at
 * a context, and the events' insert trigger (migration 0023) counts each copied event again; the
 * contexts are copied first (tables go in name order), so they start at 0 and end at their count.
 */
const RECOUNTED: Record<string, Record<string, unknown>> = { event_contexts: { refs: 0 } };

const list = (cols: string[]) => cols.map((c) => `"${c}"`).join(", ");
const marks = (n: number) => Array.from({ length: n }, () => "?").join(", ");

/** Copies the next rows of one table; 0 when the new home has them all. */
async function copyRows(from: D1Database, to: D1Database, t: Table, siteId: string): Promise<number> {
  const key = list(t.key);
  const last = await to
    .prepare(
      `SELECT ${key} FROM "${t.name}" WHERE "${t.siteColumn}" = ?
       ORDER BY ${t.key.map((c) => `"${c}" DESC`).join(", ")} LIMIT 1`,
    )
    .bind(siteId)
    .raw();
  const after = last.length > 0 ? `AND (${key}) > (${marks(t.key.length)})` : "";
  const rows = await from
    .prepare(`SELECT ${list(t.columns)} FROM "${t.name}" WHERE "${t.siteColumn}" = ? ${after} ORDER BY ${key} LIMIT ?`)
    .bind(siteId, ...(last[0] ?? []), ROWS_PER_WRITE)
    .raw();
  if (rows.length === 0) return 0;
  const insert = `INSERT INTO "${t.name}" (${list(t.columns)}) VALUES (${marks(t.columns.length)})`;
  const reset = RECOUNTED[t.name] ?? {};
  const values = (row: unknown[]) => row.map((v, i) => reset[t.columns[i] ?? ""] ?? v);
  try {
    await to.batch(rows.map((row) => to.prepare(insert).bind(...values(row))));
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    if (/UNIQUE|PRIMARY KEY/i.test(reason))
      fail(
        409,
        "move_conflict",
        `A ${t.name} row of this site has a key another site already uses in the new database (${reason.slice(0, 160)}). Abort the move (DELETE …/move) and move it to an empty database.`,
      );
    throw e;
  }
  return rows.length;
}

/** Deletes the next rows of the site from a home it no longer lives in; 0 when none are left. */
async function deleteRows(db: D1Database, tables: Table[], siteId: string): Promise<number> {
  // Its own row last: until then the leftovers still say whose they are.
  for (const t of [...tables].reverse()) {
    const key = list(t.key);
    const done = await db
      .prepare(
        `DELETE FROM "${t.name}" WHERE (${key}) IN
           (SELECT ${key} FROM "${t.name}" WHERE "${t.siteColumn}" = ? LIMIT ${ROWS_PER_WRITE * 10})`,
      )
      .bind(siteId)
      .run();
    if (done.meta.changes > 0) return done.meta.changes;
  }
  return 0;
}

function home(env: Env, name: string): D1Database {
  const db = homeDatabase(env, name);
  if (!db) fail(400, "unknown_home", `No D1 database is bound as ${name}.`);
  return db;
}

const setPlacement = async (env: Env, siteId: string, sql: string, ...values: unknown[]) => {
  await directoryOf(env)
    .prepare(`UPDATE site_homes SET ${sql} WHERE site_id = ?`)
    .bind(...values, siteId)
    .run();
  forgetPlacements();
};

/** One bounded step of moving `siteId` to the database bound as `to` (see the top of this file). */
export async function moveStep(env: Env, siteId: string, to: string, now = Date.now()): Promise<MoveState> {
  const placement = await placementOf(env, siteId, now, true);
  if (!placement) fail(404, "not_found", "No such site.");
  if (placement.cleanupFrom) return cleanupStep(env, placement, placement.cleanupFrom);
  home(env, to);
  if (!placement.movingTo) {
    if (placement.home === to) return { state: "done", home: to };
    await setPlacement(env, siteId, "moving_to = ?, paused_at = ?", to, now);
    return { state: "paused", home: placement.home, movingTo: to, retryAfter: Math.ceil(PAUSE_MS / 1000) };
  }
  if (placement.movingTo !== to)
    fail(409, "moving_elsewhere", `This site is moving to ${placement.movingTo}; finish or abort that move first.`);
  const wait = (placement.pausedAt ?? 0) + PAUSE_MS - now;
  if (wait > 0) return { state: "paused", home: placement.home, movingTo: to, retryAfter: Math.ceil(wait / 1000) };

  const from = home(env, placement.home);
  const target = home(env, to);
  const tables = await siteTables(from);
  const started = Date.now();
  let rows = 0;
  for (const t of tables) {
    for (let n = await copyRows(from, target, t, siteId); n > 0; n = await copyRows(from, target, t, siteId)) {
      rows += n;
      if (Date.now() - started > STEP_BUDGET_MS) return { state: "copying", home: placement.home, movingTo: to, rows };
    }
  }
  // Everything is in the new home: switch, then clean the old one up.
  await setPlacement(env, siteId, "home = ?, moving_to = NULL, paused_at = NULL, cleanup_from = ?", to, placement.home);
  return { state: "cleaning", home: to, rows };
}

/**
 * Stops a move before its switch: the site stays where it was (taking requests again at once), and
 * its partial copy is deleted, a bounded step per call, as after a move.
 */
export async function abortMove(env: Env, siteId: string): Promise<MoveState> {
  const placement = await placementOf(env, siteId, Date.now(), true);
  if (!placement) fail(404, "not_found", "No such site.");
  if (placement.cleanupFrom) return cleanupStep(env, placement, placement.cleanupFrom);
  if (!placement.movingTo) fail(409, "not_moving", "This site is not moving.");
  await setPlacement(env, siteId, "moving_to = NULL, paused_at = NULL, cleanup_from = ?", placement.movingTo);
  return cleanupStep(env, placement, placement.movingTo);
}

async function cleanupStep(env: Env, placement: Placement, from: string): Promise<MoveState> {
  const db = home(env, from);
  const tables = await siteTables(db);
  const started = Date.now();
  let rows = 0;
  for (
    let n = await deleteRows(db, tables, placement.siteId);
    n > 0;
    n = await deleteRows(db, tables, placement.siteId)
  ) {
    rows += n;
    if (Date.now() - started > STEP_BUDGET_MS) return { state: "cleaning", home: placement.home, rows };
  }
  await setPlacement(env, placement.siteId, "cleanup_from = NULL");
  return { state: "done", home: placement.home, rows };
}

/**
 * Homes the sweep must leave alone this minute: both ends of a move in progress, and an old home
 * still holding a moved site's copy (its due messages would be sent twice).
 */
export async function homesInMove(env: Env): Promise<Set<string>> {
  const { results } = await directoryOf(env)
    .prepare(
      `SELECT home, moving_to, cleanup_from FROM site_homes WHERE moving_to IS NOT NULL OR cleanup_from IS NOT NULL`,
    )
    .all<{ home: string; moving_to: string | null; cleanup_from: string | null }>();
  const busy = new Set<string>();
  for (const r of results ?? []) {
    if (r.moving_to) busy.add(r.home).add(r.moving_to);
    if (r.cleanup_from) busy.add(r.cleanup_from);
  }
  return busy;
}
