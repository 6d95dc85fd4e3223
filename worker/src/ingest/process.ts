import { campaignStatements } from "../campaigns/engine";
import {
  applyTraits,
  createContacts,
  findIdentities,
  identitiesOf,
  identitiesQuery,
  newContactId,
  newContactIds,
  newContactKey,
  resolveContact,
} from "../model/contacts";
import type { Identity, IdentityRow } from "../model/contacts";
import { addToCarts, cartAdd, cartStatements, toLine } from "../model/carts";
import type { CartAdd } from "../model/carts";
import { siteById } from "../model/sites";
import type { Site } from "../model/sites";
import { MESSAGE_TEMPLATES } from "../campaigns/messages";
import { text } from "../lib/values";
import { onSite, siteHosts } from "../lib/hosts";
import { eventFailed } from "../model/dead-letters";
import { cancelPending } from "../model/messages";
import { verifiedKinds } from "./identity";
import { MAX_EVENTS_PER_PASS, take } from "./inbox";
import { orderStatements } from "./orders";
import { effectiveClaim } from "./trust";
import type { Holder } from "./trust";
import { isDict } from "../lib/values";
import { contextOf, storedContexts, upsertContexts } from "../model/event-contexts";
import { currencyOf, EVENT, type AppliedEvent, type Message, optsOut } from "../model/events";

/**
 * Applies new events to profiles, carts and campaigns. Every event's effects — contact, traits,
 * cart, catalogue, orders, the campaigns' journeys — and its `processed` mark commit in the same
 * D1 batch (a transaction), so an event is applied entirely or not at all; events left unprocessed
 * by a crash are picked up by the scheduled sweep (`recoverEvents`).
 * Events from the inbox are stored already and only marked. Given `receivedAt` (a request's
 * batch), they are not: those stored already are dropped, and the rest are INSERTed — with their
 * contact, processed — in the transactions that apply them.
 *
 * Built for batches: the cost follows the number of statements, so
 *  - identities of the whole batch are read once up front; a shopper seen before in the batch, or
 *    entirely new, needs no further read. Only an event that could merge contacts (a known identity
 *    meets another) reads again — after committing what is pending, so the read sees it;
 *  - new shoppers, and commutative updates (last seen, catalogue, product views, processed marks),
 *    are folded into one statement each over json_each, however many events the chunk holds;
 *  - order-sensitive effects keep each contact's event order: a contact's consecutive Product
 *    Added events form one run, and the runs of all contacts at the same position are written
 *    together — two statements for every add of the chunk in the common case. Rarer effects
 *    (removals, whole-cart events, orders, traits) stay one set of statements per event;
 *  - campaigns get the whole chunk at once (`campaignStatements`) and answer with set-based SQL.
 * Campaigns' statements run after the chunk's effects, in the same transaction, so they see the
 * profiles and carts as of the chunk's last event.
 */
export async function processEvents(
  db: D1Database,
  site: Site,
  events: Message[],
  now: number,
  receivedAt?: (m: Message) => number,
): Promise<void> {
  // A batch to store (a request's, a Queue job's) first tries without the read (`assumed`); if its
  // first transaction fails, nothing of it committed, and it runs again the usual way.
  const assumed = receivedAt ? assumedIdentities(site.id, events) : null;
  if (assumed) {
    const attempt = { committed: false };
    try {
      return await applyEvents(db, site, events, now, receivedAt, assumed, attempt);
    } catch (e) {
      if (attempt.committed) throw e;
      forgetIdentities(site.id, events);
    }
  }
  await applyEvents(db, site, events, now, receivedAt, null, { committed: false });
}

/**
 * What this isolate saw committed of shoppers' identities, per site and identity: whose they are,
 * and whether that contact is a known person (the trust policy asks). With it a batch skips the
 * read before applying, so a request is one D1 round trip instead of two: identities it has seen
 * are assumed as seen, the others new, and the first transaction checks both (`identityGuard`)
 * before it writes anything — another isolate's merge, link or erasure fails it, and the batch is
 * applied again with the read. Duplicate messageIds fail it the same way (the plain INSERT).
 */
const seenIdentities = new Map<string, IdentityRow>();
const SEEN_MAX = 50_000;
const seenKey = (siteId: string, i: Identity) => `${siteId}\n${i.kind}:${i.value}`;

function assumedIdentities(siteId: string, events: Message[]): IdentityRow[] {
  const rows = new Map<string, IdentityRow>();
  for (const i of events.flatMap(identitiesOf)) {
    const row = seenIdentities.get(seenKey(siteId, i));
    if (row) rows.set(seenKey(siteId, i), row);
  }
  return [...rows.values()];
}

function rememberIdentities(siteId: string, known: Map<string, string>, people: Map<string, boolean>) {
  if (seenIdentities.size + known.size > SEEN_MAX) seenIdentities.clear(); // bounded, and rebuilt by use
  for (const [k, contactId] of known) {
    const cut = k.indexOf(":");
    const kind = k.slice(0, cut) as Identity["kind"];
    const value = k.slice(cut + 1);
    const person = people.get(contactId) === true;
    // The guard compares "is a person" only: which of email and user id does not matter to it.
    seenIdentities.set(seenKey(siteId, { kind, value }), {
      kind,
      value,
      contact_id: contactId,
      email: person ? "" : null,
      user_id: null,
    });
  }
}

function forgetIdentities(siteId: string, events: Message[]) {
  for (const i of events.flatMap(identitiesOf)) seenIdentities.delete(seenKey(siteId, i));
}

/**
 * The statement that makes an assumed lookup safe: in the same transaction as the writes, it
 * raises an error (SQLite's json() of a non-JSON text) unless every identity of the batch is still
 * held by the contact assumed, with the same "is a person", and every identity assumed new is
 * still nobody's.
 */
function identityGuard(db: D1Database, siteId: string, events: Message[], assumed: IdentityRow[]) {
  const byKey = new Map(assumed.map((r) => [`${r.kind}:${r.value}`, r]));
  const claims = [...new Map(events.flatMap(identitiesOf).map((i) => [`${i.kind}:${i.value}`, i])).values()].map(
    (i) => {
      const row = byKey.get(`${i.kind}:${i.value}`);
      return [
        i.kind,
        i.value,
        row?.contact_id ?? null,
        row ? Number(row.email !== null || row.user_id !== null) : null,
      ];
    },
  );
  return db
    .prepare(
      `SELECT CASE WHEN EXISTS (
         SELECT 1 FROM json_each(?2) j
         LEFT JOIN identities i ON i.site_id = ?1 AND i.kind = j.value ->> 0 AND i.value = j.value ->> 1
         LEFT JOIN contacts c ON c.site_id = ?1 AND c.id = i.contact_id
         WHERE i.contact_id IS NOT (j.value ->> 2)
            OR (i.contact_id IS NOT NULL AND (c.email IS NOT NULL OR c.user_id IS NOT NULL) IS NOT (j.value ->> 3))
       ) THEN json('identities changed since this isolate saw them') END`,
    )
    .bind(siteId, JSON.stringify(claims));
}

async function applyEvents(
  db: D1Database,
  site: Site,
  events: Message[],
  now: number,
  receivedAt: ((m: Message) => number) | undefined,
  assumed: IdentityRow[] | null,
  attempt: { committed: boolean },
): Promise<void> {
  const key = (i: Identity) => `${i.kind}:${i.value}`;
  const known = new Map<string, string>(); // identity → contact, as of the pending statements
  const inDb = new Set<string>(); // identities that existed before this call
  const { identities, stored } = assumed
    ? { identities: assumed, stored: new Set<string>() }
    : await lookUp(db, site.id, events, receivedAt !== undefined);
  let guard = assumed && identityGuard(db, site.id, events, assumed);
  // What the trust policy asks about an identity: who holds it, and whether that contact is a known
  // person. Kept current as the chunk links and merges, from the same read.
  const holders = new Map<string, string>(); // identity → contact
  const people = new Map<string, boolean>(); // contact → has an email or a user id
  for (const r of identities) {
    known.set(key(r), r.contact_id);
    inDb.add(key(r));
    holders.set(key(r), r.contact_id);
    people.set(r.contact_id, r.email !== null || r.user_id !== null);
  }
  const holder = (kind: Identity["kind"], value: string): Holder | undefined => {
    const contactId = holders.get(key({ kind, value }));
    return contactId === undefined ? undefined : { contactId, known: people.get(contactId) === true };
  };
  const ordered = (stored ? newOnly(events, stored) : [...events]).sort((a, b) => a.timestamp - b.timestamp);
  // Which claims the site's identity hash covers, per message: HMACs in parallel, no read.
  const verified = await Promise.all(ordered.map((m) => verifiedKinds(site, m)));
  // Ids for shoppers who may be new, hashed together up front rather than one await per event.
  const maybeNew = ordered.filter((m) => identitiesOf(m).every((i) => !inDb.has(key(i))));
  const newIds = await newContactIds(site.id, maybeNew);
  let chunk = newChunk();
  const flush = async () => {
    if (chunk.applied.length === 0) return;
    const campaigns = await campaignStatements(db, { site, now, events: chunk.applied });
    await db.batch([
      // Assumed identities checked before anything is written (see `seenIdentities`).
      ...(guard ? [guard] : []),
      // The events themselves first (after their contexts): one stored meanwhile by another
      // invocation fails the transaction here, before anything else is applied twice.
      ...(receivedAt ? await insertEvents(db, site.id, chunk.applied, receivedAt) : []),
      // New contacts next: the chunk's other statements update them.
      ...createContacts(db, site.id, chunk.created),
      ...chunk.resolved,
      ...orderedStatements(db, site.id, chunk.runs),
      ...foldedStatements(db, site.id, chunk, !receivedAt),
      ...campaigns,
    ]);
    attempt.committed = true;
    guard = null;
    chunk = newChunk();
  };
  for (const [i, sent] of ordered.entries()) {
    // The message as the trust policy lets it apply: refused identity claims taken out.
    const m = effectiveClaim(sent, verified[i] ?? new Set(), holder);
    const ids = identitiesOf(m);
    const keys = ids.map(key);
    let contactId = keys.length > 0 ? known.get(keys[0] ?? "") : undefined;
    if (!contactId || !keys.every((k) => known.get(k) === contactId)) {
      const fresh = keys.every((k) => !known.has(k) && !inDb.has(k));
      if (fresh && m.type !== "alias") {
        // Nothing of this shopper exists yet: creating them needs no read, and folds with the others.
        contactId = newIds.get(newContactKey(site.id, m)) ?? (await newContactId(site.id, m));
        chunk.created.push({ id: contactId, at: m.timestamp, identities: ids });
      } else {
        // Anything else may merge: commit what is pending, so the read sees it.
        if (!fresh) await flush();
        // A fresh alias has nothing stored to read; anything else reads its identities as committed.
        const stored = fresh ? [] : await findIdentities(db, site.id, ids);
        const resolved = await resolveContact(db, site.id, m, stored, {
          authoritative: m.source === "server" || (verified[i]?.size ?? 0) > 0,
        });
        contactId = resolved.contactId;
        chunk.resolved.push(...resolved.statements);
        if (!fresh) {
          // A merge folds other contacts into this one: forget them rather than point at a deleted row.
          for (const [k, v] of known) if (v !== contactId) known.delete(k);
          for (const [k, v] of holders) if (resolved.merged.includes(v)) holders.set(k, contactId);
        }
      }
      for (const k of keys) known.set(k, contactId);
    }
    for (const k of keys) holders.set(k, contactId);
    if (ids.some((id) => id.kind !== "anonymous")) people.set(contactId, true);
    applyEvent(db, site, contactId, m, chunk);
    chunk.applied.push({ contactId, event: m });
    // Bounds each JSON list a statement binds under D1's 1 MB per value, however large the pass.
    if (chunk.applied.length >= CHUNK_EVENTS) await flush();
  }
  await flush();
  rememberIdentities(site.id, known, people);
}

/**
 * The one read before applying: the stored identities of the events' shoppers and, when the events
 * are not stored yet, which of their messageIds are (a retry, a second tab) — one round trip.
 */
async function lookUp(
  db: D1Database,
  siteId: string,
  events: Message[],
  storing: boolean,
): Promise<{ identities: IdentityRow[]; stored: Set<string> | null }> {
  const statements = [identitiesQuery(db, siteId, events.flatMap(identitiesOf))];
  if (storing)
    statements.push(
      db
        .prepare(`SELECT message_id FROM events WHERE site_id = ?1 AND message_id IN (SELECT value FROM json_each(?2))`)
        .bind(siteId, JSON.stringify(events.map((m) => m.messageId))),
    );
  const [identities, stored] = await db.batch<IdentityRow & { message_id: string }>(statements);
  return {
    identities: identities?.results ?? [],
    stored: storing ? new Set((stored?.results ?? []).map((r) => r.message_id)) : null,
  };
}

/** The events not stored yet, each messageId once: the first copy, as the inbox keeps it. */
function newOnly(events: Message[], stored: Set<string>): Message[] {
  const seen = new Set(stored);
  return events.filter((m) => !seen.has(m.messageId) && seen.add(m.messageId));
}

/**
 * Stores a chunk's events, already applied: with their contact and marked processed, so each row is
 * written once. A plain INSERT: a messageId stored since `lookUp` fails the whole transaction, and
 * the caller falls back to the inbox, whose expansion skips what is stored. Their contexts go first,
 * each distinct one once (`model/event-contexts.ts`): one more statement in the same batch.
 */
export async function insertEvents(
  db: D1Database,
  siteId: string,
  applied: { event: Message; contactId: string | null }[],
  receivedAt: (m: Message) => number,
): Promise<D1PreparedStatement[]> {
  const contexts = await storedContexts(applied.map((a) => a.event.context));
  const rows = applied.map(({ event: m, contactId }, i) => [
    m.messageId,
    m.type,
    m.event,
    m.anonymousId,
    m.userId,
    m.previousId,
    m.properties,
    m.traits,
    contexts.keys[i] ? {} : m.context,
    m.timestamp,
    receivedAt(m),
    contactId,
    m.source,
    contexts.keys[i],
  ]);
  return [
    ...(contexts.rows.length > 0 ? [upsertContexts(db, siteId, contexts.rows)] : []),
    db
      .prepare(
        `INSERT INTO events (site_id, message_id, type, event, anonymous_id, user_id, previous_id, properties, traits,
           context, timestamp, received_at, contact_id, source, context_hash, processed)
         SELECT ?1, value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value -> 6, value -> 7,
           value -> 8, value ->> 9, value ->> 10, value ->> 11, value ->> 12, value ->> 13, 1
         FROM json_each(?2)`,
      )
      .bind(siteId, JSON.stringify(rows)),
  ];
}

/** A contact's consecutive effects of one kind: adds folded together, or other statements. */
type Run = { adds: CartAdd[] } | { statements: D1PreparedStatement[] };

/** Events per D1 transaction: the set-based statements' JSON lists stay well under 1 MB each. */
const CHUNK_EVENTS = 500;

interface Chunk {
  /** The chunk's events with their contacts, in event order: what campaigns and marks are built from. */
  applied: AppliedEvent[];
  created: { id: string; at: number; identities: Identity[] }[];
  /** Identity links and merges of shoppers seen before; they run before the events' effects. */
  resolved: D1PreparedStatement[];
  /** Order-sensitive effects, per contact, in event order. */
  runs: Map<string, Run[]>;
  /** Commutative updates, folded as events come: last seen per contact, one catalogue row per
   * product, one view count per contact and product. */
  seen: Map<string, number>;
  products: Map<string, ProductRow>;
  views: Map<string, [string, string, number, number]>;
}

const newChunk = (): Chunk => ({
  applied: [],
  created: [],
  resolved: [],
  runs: new Map(),
  seen: new Map(),
  products: new Map(),
  views: new Map(),
});

function applyEvent(db: D1Database, site: Site, contactId: string, m: Message, chunk: Chunk) {
  chunk.seen.set(contactId, Math.max(chunk.seen.get(contactId) ?? 0, m.timestamp));
  const runs = chunk.runs.get(contactId) ?? [];
  chunk.runs.set(contactId, runs);
  const last = runs[runs.length - 1];
  const add = m.type === "track" && m.event === EVENT.productAdded ? cartAdd(contactId, m, site.currency) : null;
  if (add) {
    if (last && "adds" in last) last.adds.push(add);
    else runs.push({ adds: [add] });
  }
  const statements: D1PreparedStatement[] = [];
  if (m.type === "identify" || Object.keys(m.traits).length > 0)
    statements.push(applyTraits(db, site.id, contactId, m));
  if (m.type === "track") {
    if (!add) statements.push(...cartStatements(db, site.id, contactId, m, site.currency));
    statements.push(...orderStatements(db, site, contactId, m));
    if (optsOut(m)) statements.push(...optOut(db, site.id, contactId));
    productRows(site, contactId, m, chunk);
  }
  if (statements.length > 0) {
    if (last && "statements" in last && !add) last.statements.push(...statements);
    else runs.push({ statements });
  }
}

/**
 * Each contact's runs in order; contacts are independent of each other (a merge commits what is
 * pending first), so the n-th runs of all contacts go together and their adds fold into one pair.
 */
function orderedStatements(db: D1Database, siteId: string, runs: Map<string, Run[]>): D1PreparedStatement[] {
  const out: D1PreparedStatement[] = [];
  const rounds = Math.max(0, ...[...runs.values()].map((r) => r.length));
  for (let i = 0; i < rounds; i++) {
    const adds: CartAdd[] = [];
    for (const r of runs.values()) {
      const run = r[i];
      if (run && "adds" in run) adds.push(...run.adds);
      else if (run) out.push(...run.statements);
    }
    out.push(...addToCarts(db, siteId, adds));
  }
  return out;
}

/** One statement per kind of commutative update, whatever the number of events. */
function foldedStatements(db: D1Database, siteId: string, chunk: Chunk, mark: boolean): D1PreparedStatement[] {
  const statements = [
    db
      .prepare(
        `WITH seen (id, at) AS MATERIALIZED (SELECT value ->> 0, value ->> 1 FROM json_each(?2))
         UPDATE contacts SET last_seen = max(last_seen, seen.at)
         FROM seen WHERE contacts.site_id = ?1 AND contacts.id = seen.id`,
      )
      .bind(siteId, JSON.stringify([...chunk.seen])),
  ];
  if (chunk.products.size > 0)
    statements.push(
      db
        .prepare(
          `INSERT INTO products (site_id, product_id, name, price, currency, category, url, image_url, updated_at,
             merchant)
           SELECT ?1, value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6,
             value ->> 7, value ->> 8
           FROM json_each(?2) WHERE true
           ON CONFLICT DO UPDATE SET
             name = iif(excluded.merchant, excluded.name, name),
             price = iif(excluded.merchant, excluded.price, price),
             currency = iif(excluded.merchant, excluded.currency, currency),
             category = iif(excluded.merchant, coalesce(excluded.category, category), coalesce(category, excluded.category)),
             url = iif(excluded.merchant, coalesce(excluded.url, url), coalesce(url, excluded.url)),
             image_url = iif(excluded.merchant, coalesce(excluded.image_url, image_url), coalesce(image_url, excluded.image_url)),
             updated_at = iif(excluded.merchant, excluded.updated_at, updated_at),
             merchant = max(merchant, excluded.merchant)`,
        )
        .bind(siteId, JSON.stringify([...chunk.products.values()])),
    );
  if (chunk.views.size > 0)
    statements.push(
      db
        .prepare(
          `INSERT INTO product_views (site_id, contact_id, product_id, viewed_at, views)
           SELECT ?1, value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(?2) WHERE true
           ON CONFLICT DO UPDATE SET viewed_at = max(viewed_at, excluded.viewed_at), views = views + excluded.views`,
        )
        .bind(siteId, JSON.stringify([...chunk.views.values()])),
    );
  // Events stored before applying (the inbox's) are marked now. The lists drive these updates
  // (MATERIALIZED): joined the other way round, SQLite would scan the site's rows for each entry.
  if (mark)
    statements.push(
      db
        .prepare(
          `WITH marks (message_id, contact_id) AS MATERIALIZED (SELECT value ->> 0, value ->> 1 FROM json_each(?2))
         UPDATE events SET contact_id = marks.contact_id, processed = 1
         FROM marks WHERE events.site_id = ?1 AND events.message_id = marks.message_id`,
        )
        .bind(siteId, JSON.stringify(chunk.applied.map((a) => [a.event.messageId, a.contactId]))),
    );
  return statements;
}

/**
 * How a request applies its batch before it answers: stored as events and applied in the same
 * transactions — two D1 round trips for a batch of up to 500 events (one read, one write).
 * Returns false when that failed or may have partly failed (a messageId stored meanwhile by a
 * concurrent request, a D1 error); the caller then stores the batch in the inbox, whose expansion
 * skips whatever did get stored — nothing lost, nothing applied twice.
 */
export async function applyBatch(
  db: D1Database,
  site: Site,
  messages: Message[],
  receivedAt: number,
): Promise<boolean> {
  try {
    // Received now: the request's time is also the time campaigns schedule from.
    await processEvents(db, site, messages, receivedAt, () => receivedAt);
    return true;
  } catch (e) {
    console.error("applying deferred to the inbox", e);
    return false;
  }
}

/** How long one sweep keeps draining the inbox before leaving the rest to the next one. */
export const DRAIN_BUDGET_MS = 20_000;
/** And at most this many passes (a few D1 calls each; an invocation may make 1 000 at most). */
const SWEEP_PASSES = 60;

/**
 * Applies new events, per site, to profiles, carts and campaigns; returns how many there were. A
 * site whose events fail to apply does not hold the others back: its events are stored already
 * (processed = 0), and `recoverEvents` applies them one by one, setting aside any that keep failing.
 */
async function applyFresh(
  db: D1Database,
  siteById: (id: string) => Promise<Site | null>,
  fresh: Map<string, Message[]>,
  now: number,
): Promise<number> {
  let applied = 0;
  for (const [siteId, events] of fresh) {
    try {
      const site = await siteById(siteId);
      if (site) await processEvents(db, site, events, now);
      applied += events.length;
    } catch (e) {
      console.error(`inbox: applying site ${siteId}'s events left to recovery`, e);
    }
  }
  return applied;
}

/**
 * Takes and applies what the inbox holds, a pass of up to MAX_EVENTS_PER_PASS events at a time
 * (all of a site's batches of a pass with one set of statements): until it is empty or
 * DRAIN_BUDGET_MS or SWEEP_PASSES is spent (the sweep), or for `passes` passes. A row the
 * database refuses stays behind (and is set aside after a few tries, `take`); the rest go through.
 */
export async function drainInbox(
  db: D1Database,
  siteById: (id: string) => Promise<Site | null>,
  now: number,
  { budgetMs = DRAIN_BUDGET_MS, passes = SWEEP_PASSES } = {},
): Promise<number> {
  let applied = 0;
  const until = Date.now() + budgetMs;
  for (let pass = 0; pass < passes; pass++) {
    const { rows, fresh, failed } = await take(db, MAX_EVENTS_PER_PASS, now);
    applied += await applyFresh(db, siteById, fresh, now);
    // Only refused rows left: they wait for the next sweep rather than be tried again now.
    if (rows.length === 0 || failed > 0 || Date.now() > until) break;
  }
  return applied;
}

/** Templates whose messages are not marketing (order and callback confirmations): consent does not stop them. */
const TRANSACTIONAL = [...MESSAGE_TEMPLATES].filter(([, t]) => t.transactional).map(([id]) => id);

/**
 * `Consent Updated { marketing: false }`: the contact is unsubscribed from marketing, and the
 * marketing messages waiting for them are cancelled; order and callback confirmations still go.
 */
function optOut(db: D1Database, siteId: string, contactId: string): D1PreparedStatement[] {
  return [
    db.prepare(`UPDATE contacts SET unsubscribed = 1 WHERE site_id = ? AND id = ?`).bind(siteId, contactId),
    cancelPending(db, siteId, contactId, "unsubscribed", { templates: TRANSACTIONAL }),
  ];
}

const PRODUCT_EVENTS = new Set<string>([
  EVENT.productViewed,
  EVENT.productAdded,
  EVENT.productRemoved,
  EVENT.productClicked,
  EVENT.productShared,
]);

/** A catalogue row as the products statement reads it; the last field is 1 for the merchant's. */
type ProductRow = [string, string, number, string, string | null, string | null, string | null, number, 0 | 1];

/**
 * The catalogue is the merchant's (SECURITY.md). Their server's product events (secret key) write
 * name, price, url and image, the latest received winning; a browser's or a widget's — a claim by
 * whoever holds the public key — only adds a product not known yet and fills empty fields, with
 * url and image only on the store's own hosts. Order is the order events are applied in (server
 * time): the client's timestamp decides nothing, so a view dated 23 h ahead cannot keep a row.
 * Views are kept per contact and product.
 */
function productRows(site: Site, contactId: string, m: Message, chunk: Chunk) {
  if (!m.event || !PRODUCT_EVENTS.has(m.event)) return;
  const currency = currencyOf(m, site.currency);
  const line = toLine(m.properties, currency);
  if (!line) return;
  const merchant = m.source === "server" ? 1 : 0;
  const hosts = merchant ? null : siteHosts(site);
  const url = hosts ? onSite(line.url, hosts) : line.url;
  const imageUrl = hosts ? onSite(line.imageUrl, hosts) : line.imageUrl;
  const category = text(m.properties.category, 200) ?? null;
  // Folded in event order into what applying each event in turn would leave: the merchant's latest
  // facts, else the first claim, with a detail only another event had kept.
  const key = line.productId;
  const before = chunk.products.get(key);
  const row: ProductRow = [
    line.productId,
    line.name,
    line.price,
    currency,
    category,
    url,
    imageUrl,
    m.timestamp,
    merchant,
  ];
  const newer = !before || merchant === 1 ? row : before;
  const older = newer === row ? before : row;
  chunk.products.set(key, [
    ...(newer.slice(0, 4) as [string, string, number, string]),
    newer[4] ?? older?.[4] ?? null,
    newer[5] ?? older?.[5] ?? null,
    newer[6] ?? older?.[6] ?? null,
    Math.max(newer[7], older?.[7] ?? 0),
    Math.max(newer[8], older?.[8] ?? 0) as 0 | 1,
  ]);
  if (m.event === EVENT.productViewed) {
    const key = `${contactId}\u0000${line.productId}`;
    const seen = chunk.views.get(key);
    chunk.views.set(key, [contactId, line.productId, m.timestamp, (seen?.[3] ?? 0) + 1]);
  }
}

interface EventRow {
  site_id: string;
  message_id: string;
  type: Message["type"];
  event: string | null;
  anonymous_id: string | null;
  user_id: string | null;
  previous_id: string | null;
  properties: string;
  traits: string;
  context: string;
  timestamp: number;
  source: Message["source"];
}

const parse = (text: string): Record<string, unknown> => {
  try {
    const v: unknown = JSON.parse(text);
    return isDict(v) ? v : {};
  } catch {
    return {};
  }
};

/** Events stored but not processed for over `graceMs` (the request that stored them died). */
export async function recoverEvents(
  db: D1Database,
  siteById: (id: string) => Promise<Site | null>,
  now: number,
  graceMs = 60_000,
): Promise<number> {
  const { results } = await db
    .prepare(
      `SELECT site_id, message_id, type, event, anonymous_id, user_id, previous_id, properties, traits,
         ${contextOf("e")} AS context, timestamp, source
       FROM events e WHERE processed = 0 AND received_at < ? ORDER BY received_at LIMIT 500`,
    )
    .bind(now - graceMs)
    .all<EventRow>();
  const rows = results ?? [];
  for (const siteId of new Set(rows.map((r) => r.site_id))) {
    const site = await siteById(siteId);
    if (!site) {
      // A site that no longer exists: its events can never apply, and would fill this read's 500
      // rows ahead of every other site's. Set aside (processed = 2) in one statement.
      await db.prepare(`UPDATE events SET processed = 2 WHERE site_id = ? AND processed = 0`).bind(siteId).run();
      continue;
    }
    const events = rows
      .filter((r) => r.site_id === siteId)
      .map(
        (r): Message => ({
          type: r.type,
          messageId: r.message_id,
          anonymousId: r.anonymous_id,
          userId: r.user_id,
          previousId: r.previous_id,
          event: r.event,
          properties: parse(r.properties),
          traits: parse(r.traits),
          context: parse(r.context),
          timestamp: r.timestamp,
          source: r.source,
        }),
      );
    // One event at a time here: an event that keeps failing must not hold back the others, and is
    // set aside after a few attempts.
    for (const event of events) {
      try {
        await processEvents(db, site, [event], now);
      } catch (e) {
        await eventFailed(db, siteId, event.messageId, e instanceof Error ? e.message : String(e), now);
      }
    }
  }
  return rows.length;
}

/**
 * A short pass over the inbox before reading what it would change (a contact's export or erasure,
 * an audience file), so nothing accepted a moment ago escapes it. Best effort and never a
 * condition: a batch the inbox cannot apply must not stand between a person and their rights.
 */
export async function catchUp(db: D1Database, now: number, purpose: string): Promise<void> {
  await drainInbox(db, (id) => siteById(db, id), now, { budgetMs: 2000, passes: 3 }).catch((e: unknown) =>
    console.error(`${purpose}: inbox not drained first`, e),
  );
}
