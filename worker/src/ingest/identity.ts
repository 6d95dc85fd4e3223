import { hmacHex } from "../lib/crypto";
import { normaliseEmail } from "../model/contacts";
import type { IdentityKind } from "../model/contacts";
import type { Site } from "../model/sites";
import type { Message } from "../model/events";
import type { MessageError } from "./validate";
import { isDict } from "../lib/values";

/**
 * Identity verification. When a site enforces it, a message that names a person — a userId, or
 * failing that an email trait — must carry `context.nudge.userHash`, the hex HMAC-SHA256 of that
 * value keyed with the site's identity secret, computed by the store's server. Without it a visitor
 * could call identify with someone else's id and be merged into their profile.
 */
export async function unverified(site: Site, m: Message, index: number): Promise<MessageError | null> {
  const secret = site.identitySecret;
  const claimed = m.userId ?? (typeof m.traits.email === "string" ? m.traits.email : null);
  if (!secret || claimed === null) return null;
  const nudge = m.context.nudge;
  const hash = isDict(nudge) && typeof nudge.userHash === "string" ? nudge.userHash.toLowerCase() : null;
  if (hash !== null && hash.length === 64 && timingSafeEqual(hash, await hmacHex(secret, claimed))) return null;
  return {
    index,
    messageId: m.messageId,
    code: hash === null ? "missing_user_hash" : "invalid_user_hash",
    message:
      "This site verifies identities: send context.nudge.userHash, the hex HMAC-SHA256 of the userId (or email) keyed with the site's identity secret.",
  };
}

/**
 * Which of a message's claims the site's identity hash covers: the user id, the email, or neither.
 * The hash is over one exact value, so it vouches for that value only — a valid hash of one's own
 * user id says nothing about an email sent beside it (ingest/trust.ts decides what that may change).
 * In memory only: an HMAC per message that carries a hash, no D1 read.
 */
export async function verifiedKinds(site: Site, m: Message): Promise<Set<IdentityKind>> {
  const kinds = new Set<IdentityKind>();
  const secret = site.identitySecret;
  const nudge = m.context.nudge;
  const hash = isDict(nudge) && typeof nudge.userHash === "string" ? nudge.userHash.toLowerCase() : null;
  if (!secret || hash === null || hash.length !== 64) return kinds;
  const matches = async (value: string) => timingSafeEqual(hash, await hmacHex(secret, value));
  if (m.userId && (await matches(m.userId))) kinds.add("user");
  const raw = typeof m.traits.email === "string" ? m.traits.email : null;
  const email = normaliseEmail(raw);
  if (raw && email && ((await matches(raw)) || (raw !== email && (await matches(email))))) kinds.add("email");
  return kinds;
}

function timingSafeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
