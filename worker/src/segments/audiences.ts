import { randomToken, sha256Hex } from "../lib/crypto";
import { normalisePhone } from "../lib/phone";
import { normaliseEmail } from "../model/contacts";
import { suppressionHashes } from "../model/suppressions";
import { compileRule, parseRule, type Rule } from "./rules";

/**
 * Audiences: named segments (a rule saved under a name) and their members as files for the
 * customer-match features of ad platforms, so a merchant can show ads to shoppers who left a cart
 * and stop the moment they buy. Members are computed when the file is asked for, with the one rule
 * compiler campaigns use: a shopper whose order empties her cart is gone from "open cart" in the
 * next pull. Nobody who unsubscribed, or whose address is suppressed (bounce, complaint, STOP,
 * erasure), is ever in a file.
 */

export interface SavedSegment {
  id: string;
  name: string;
  rule: Rule;
  /** Whether a pull URL exists (the token itself is shown once, when made). */
  feed: boolean;
  createdAt: number;
  updatedAt: number;
}

interface SegmentRow {
  id: string;
  name: string;
  rule: string;
  feed_token_hash: string | null;
  created_at: number;
  updated_at: number;
}

const fromRow = (r: SegmentRow): SavedSegment => ({
  id: r.id,
  name: r.name,
  // Stored rules were validated when saved; parsing again keeps the type honest.
  rule: parseRule(JSON.parse(r.rule)),
  feed: r.feed_token_hash !== null,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export async function saveSegment(
  db: D1Database,
  siteId: string,
  segment: { id: string; name: string; rule: Rule },
  now: number,
): Promise<SavedSegment> {
  const row = await db
    .prepare(
      `INSERT INTO segments (site_id, id, name, rule, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)
       ON CONFLICT (site_id, id) DO UPDATE SET name = excluded.name, rule = excluded.rule, updated_at = excluded.updated_at
       RETURNING *`,
    )
    .bind(siteId, segment.id, segment.name, JSON.stringify(segment.rule), now)
    .first<SegmentRow>();
  if (!row) throw new Error("segment upsert returned no row");
  return fromRow(row);
}

export async function listSegments(db: D1Database, siteId: string): Promise<SavedSegment[]> {
  const { results } = await db
    .prepare(`SELECT * FROM segments WHERE site_id = ? ORDER BY name, id`)
    .bind(siteId)
    .all<SegmentRow>();
  return results.map(fromRow);
}

export async function segmentById(db: D1Database, siteId: string, id: string): Promise<SavedSegment | null> {
  const row = await db
    .prepare(`SELECT * FROM segments WHERE site_id = ? AND id = ?`)
    .bind(siteId, id)
    .first<SegmentRow>();
  return row ? fromRow(row) : null;
}

export async function deleteSegment(db: D1Database, siteId: string, id: string): Promise<boolean> {
  const r = await db.prepare(`DELETE FROM segments WHERE site_id = ? AND id = ?`).bind(siteId, id).run();
  return r.meta.changes > 0;
}

const FEED_TOKEN = /^aud_[A-Za-z0-9_-]{43}$/;

/**
 * A new pull URL token for the segment (the old one stops working), or null when there is no such
 * segment. 256 random bits; D1 keeps only its SHA-256, so a copy of the database reveals no URL.
 */
export async function rotateFeedToken(db: D1Database, siteId: string, id: string): Promise<string | null> {
  const token = `aud_${randomToken()}`;
  const r = await db
    .prepare(`UPDATE segments SET feed_token_hash = ? WHERE site_id = ? AND id = ?`)
    .bind(await sha256Hex(token), siteId, id)
    .run();
  return r.meta.changes > 0 ? token : null;
}

/** Removes the segment's pull URL; false when there is no such segment. */
export async function revokeFeedToken(db: D1Database, siteId: string, id: string): Promise<boolean> {
  const r = await db
    .prepare(`UPDATE segments SET feed_token_hash = NULL WHERE site_id = ? AND id = ?`)
    .bind(siteId, id)
    .run();
  return r.meta.changes > 0;
}

/** The site and segment of a pull URL's token, or null. */
export async function segmentByFeedToken(
  db: D1Database,
  token: string,
): Promise<{ siteId: string; segment: SavedSegment } | null> {
  if (!FEED_TOKEN.test(token)) return null;
  const row = await db
    .prepare(`SELECT * FROM segments WHERE feed_token_hash = ?`)
    .bind(await sha256Hex(token))
    .first<SegmentRow & { site_id: string }>();
  return row ? { siteId: row.site_id, segment: fromRow(row) } : null;
}

/** A member as the files need it. */
interface Member {
  id: string;
  email: string | null;
  phone: string | null;
  name: string | null;
  user_id: string | null;
  orders_count: number;
  total_spent: number;
  first_seen: number;
  last_seen: number;
}

const PAGE = 500;

/**
 * The segment's reachable members, a page at a time in contact id order (keyset paging: each page
 * is one indexed query however long the list). Reachable: an email or a phone, not unsubscribed,
 * and no address on the suppression list.
 */
export async function* members(db: D1Database, siteId: string, rule: Rule, now: number): AsyncGenerator<Member[]> {
  const { sql, params } = compileRule(rule, now);
  let after = "";
  for (;;) {
    const { results } = await db
      .prepare(
        `SELECT c.id, c.email, c.phone, c.name, c.user_id, c.orders_count, c.total_spent, c.first_seen, c.last_seen
         FROM contacts c
         WHERE c.site_id = ? AND c.id > ? AND c.unsubscribed = 0 AND (c.email IS NOT NULL OR c.phone IS NOT NULL)
           AND ${sql}
         ORDER BY c.id LIMIT ${PAGE}`,
      )
      .bind(siteId, after, ...params)
      .all<Member>();
    if (results.length === 0) return;
    after = results[results.length - 1]?.id ?? after;
    yield await withoutSuppressed(db, siteId, results);
    if (results.length < PAGE) return;
  }
}

async function withoutSuppressed(db: D1Database, siteId: string, page: Member[]): Promise<Member[]> {
  const addresses = (m: Member) => [m.email, m.phone].filter((a): a is string => !!a);
  const hashes = new Map(
    await Promise.all(
      page.map(async (m) => [m, (await Promise.all(addresses(m).map(suppressionHashes))).flat()] as const),
    ),
  );
  const { results } = await db
    .prepare(`SELECT hash FROM suppressions WHERE site_id = ? AND hash IN (SELECT value FROM json_each(?))`)
    .bind(siteId, JSON.stringify([...hashes.values()].flat()))
    .all<{ hash: string }>();
  const suppressed = new Set(results.map((r) => r.hash));
  return page.filter((m) => !(hashes.get(m) ?? []).some((h) => suppressed.has(h)));
}

export const AUDIENCE_FORMATS = ["csv", "google", "meta", "tiktok"] as const;
export type AudienceFormat = (typeof AUDIENCE_FORMATS)[number];

/**
 * How each ad platform wants its customer list: header, and the normalised email and phone that
 * are hashed (SHA-256, lower-case hex). Google Customer Match: lower-case email without the dots
 * of a Gmail local part, phone in E.164. Meta custom audiences: lower-case email, phone as digits
 * with the country code and no "+". TikTok customer files: lower-case email, phone in E.164.
 */
const HASHED: Record<
  Exclude<AudienceFormat, "csv">,
  { header: [string, string]; email(e: string): string; phone(p: string): string }
> = {
  google: {
    header: ["Email", "Phone"],
    email: (e) => {
      const [local = "", domain = ""] = e.split("@");
      return domain === "gmail.com" || domain === "googlemail.com" ? `${local.replace(/\./g, "")}@${domain}` : e;
    },
    phone: (p) => p,
  },
  meta: { header: ["email", "phone"], email: (e) => e, phone: (p) => p.slice(1) },
  tiktok: { header: ["Email_SHA256", "Phone_SHA256"], email: (e) => e, phone: (p) => p },
};

/**
 * A CSV cell: quoted when it holds a comma, quote or line break; free text that a spreadsheet
 * would run as a formula (=, +, -, @ first) gets a leading apostrophe.
 */
function cell(v: string | number | null): string {
  if (v === null) return "";
  let s = String(v);
  if (typeof v === "string" && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The lines of one page of members in `format` (no header). */
async function lines(page: Member[], format: AudienceFormat): Promise<string[]> {
  if (format === "csv")
    return page.map((m) =>
      [
        cell(m.email),
        // In E.164 where it is a valid number (digits after a "+", never a formula).
        normalisePhone(m.phone) ?? cell(m.phone),
        cell(m.name),
        cell(m.user_id),
        m.orders_count,
        m.total_spent,
        iso(m.first_seen),
        iso(m.last_seen),
      ].join(","),
    );
  const f = HASHED[format];
  const out: string[] = [];
  for (const m of page) {
    const email = normaliseEmail(m.email);
    const phone = normalisePhone(m.phone);
    if (!email && !phone) continue;
    out.push(`${email ? await sha256Hex(f.email(email)) : ""},${phone ? await sha256Hex(f.phone(phone)) : ""}`);
  }
  return out;
}

const CSV_HEADER = "email,phone,name,user_id,orders_count,total_spent_minor,first_seen,last_seen";

/** The audience file, streamed page by page: a list of any length costs one page of memory. */
export function audienceFile(
  db: D1Database,
  siteId: string,
  rule: Rule,
  format: AudienceFormat,
  now: number,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const pages = members(db, siteId, rule, now);
  let header = true;
  return new ReadableStream({
    async pull(controller) {
      if (header) {
        header = false;
        controller.enqueue(encoder.encode(`${format === "csv" ? CSV_HEADER : HASHED[format].header.join(",")}\n`));
        return;
      }
      // Until something is enqueued: a pull that enqueues nothing is not always called again.
      for (;;) {
        const next = await pages.next();
        if (next.done) return controller.close();
        const text = (await lines(next.value, format)).map((l) => `${l}\n`).join("");
        if (text) return controller.enqueue(encoder.encode(text));
      }
    },
  });
}
