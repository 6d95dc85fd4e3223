import { normaliseEmail } from "../model/contacts";
import type { IdentityKind } from "../model/contacts";
import type { Message } from "../model/events";

/**
 * The trust policy for identity claims (SECURITY.md has the table; the families and the money and
 * consent rules are in `model/events.ts`). Pure and in memory — ingest asks it per event with what
 * its one read already knows, so the policy costs no D1 round trip.
 */

/** Who holds an identity as of the pending statements, and whether that contact is a known person
 * (has an email or a user id), which is what an unverified browser may never change. */
export interface Holder {
  contactId: string;
  known: boolean;
}

/** Traits that identify or address a person: an unverified browser never writes them onto a known contact. */
const PERSONAL = ["email", "phone", "name", "firstName", "first_name", "lastName", "last_name"] as const;

/**
 * What an identity claim may change: the message as ingest applies it, with every refused claim
 * taken out (and listed in `context.nudge.refused`, so the stored event says what was ignored).
 *
 * The merchant's server is authoritative: its message is applied as sent (it links browsers to
 * known contacts and merges them — the way to link devices without the verification hash).
 * From the browser (and the widget endpoints, which a browser drives), a user id or an email:
 *  - verified (`verified` holds its kind: the site's identity hash over that exact value) — kept;
 *  - already the browser's own contact's — kept;
 *  - held by another contact — refused: no merge into them, nothing moved away from them;
 *  - held by nobody — kept, unless the browser's contact is known: an unverified browser never
 *    changes the email or user id of a known contact.
 * Name and phone follow the same rule: never written onto a known contact without verification.
 */
export function effectiveClaim(
  m: Message,
  verified: ReadonlySet<IdentityKind>,
  holder: (kind: IdentityKind, value: string) => Holder | undefined,
): Message {
  if (m.source === "server") return m;
  // The browser's own id: its anonymous id (alias names it as the previous id).
  const browserId = m.anonymousId ?? (m.type === "alias" ? m.previousId : null);
  const own = browserId ? holder("anonymous", browserId) : undefined;
  // A verified user id names the contact the session belongs to; otherwise the browser's own.
  const userHolder = m.userId ? holder("user", m.userId) : undefined;
  const target = verified.has("user") ? userHolder : own;
  const trusted = verified.has("user") || (verified.has("email") && !m.userId);
  const admit = (kind: IdentityKind, value: string): boolean => {
    if (verified.has(kind)) return true;
    const h = holder(kind, value);
    if (h) return h.contactId === target?.contactId;
    return trusted || !target?.known;
  };
  const refused: string[] = [];
  let userId = m.userId;
  if (userId && !admit("user", userId)) {
    refused.push("userId");
    userId = null;
  }
  const traits = { ...m.traits };
  const email = normaliseEmail(traits.email);
  if (email && !admit("email", email)) {
    refused.push("email");
    delete traits.email;
  }
  if (!trusted && target?.known) {
    for (const k of PERSONAL)
      if (traits[k] !== undefined && k !== "email") {
        refused.push(k);
        delete traits[k];
      }
  }
  let previousId = m.previousId;
  if (m.type === "alias" && previousId) {
    // alias names an earlier id of this browser; one that belongs to another contact stays theirs.
    const h = holder("anonymous", previousId) ?? holder("user", previousId);
    if (h && h.contactId !== target?.contactId && !trusted) {
      refused.push("previousId");
      previousId = null;
    }
  }
  if (refused.length === 0) return m;
  // A message left naming nobody (a bare userId refused) gets a browser id of its own, derived from
  // the claim: the event is kept on a contact of its own, never on the one it claimed.
  const anonymousId = m.anonymousId ?? (userId ? null : `unverified:${m.userId ?? m.messageId}`.slice(0, 200));
  const nudge = typeof m.context.nudge === "object" && m.context.nudge !== null ? m.context.nudge : {};
  return {
    ...m,
    anonymousId,
    userId,
    previousId,
    traits,
    context: { ...m.context, nudge: { ...nudge, refused } },
  };
}
