import { Hono } from "hono";
import type { Context } from "hono";
import type { Env } from "../env";
import { isDict } from "../lib/values";
import { sameSecret } from "../lib/crypto";
import { fail, readText } from "../lib/http";
import type { Site } from "../model/sites";
import { suppress } from "../model/suppressions";
import { localeOf } from "../campaigns/messages";
import { escapeXml } from "../channels/twilio";
import { now } from "../lib/clock";
import { normalisePhone, phoneAllowed, phoneCountries } from "../lib/phone";
import { latestOfferTo } from "../model/onsite";
import { CALLBACK_OFFER_TEMPLATES, isCapped, OFFER_DAYS, takeOffer } from "./answers";
import { routeToSite } from "./auth";
import type { SuppressionReason } from "../model/suppressions";

/**
 * `/v1/feedback/<provider>/<site id>`: what providers report back, turned into suppressions
 * (model/suppressions.ts): Resend bounces and complaints (Svix-signed), Postmark bounces and spam
 * complaints (HTTP Basic on the URL), Twilio STOP texts and opted-out deliveries (X-Twilio-Signature).
 * Every request is verified first; an unverified one is 401 and changes nothing. One URL per site,
 * so the address is suppressed where it was mailed from.
 */
export const feedback = new Hono<{ Bindings: Env }>();

const encoder = new TextEncoder();
const MAX_BODY = 256 * 1024;
/** Svix refuses timestamps more than five minutes away: a captured request cannot be replayed later. */
const TOLERANCE_S = 300;

const bytes = (b64: string): Uint8Array | null => {
  try {
    return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
};
const base64 = (buf: ArrayBuffer) => btoa(String.fromCharCode(...new Uint8Array(buf)));

async function hmac(hash: "SHA-256" | "SHA-1", key: Uint8Array, text: string): Promise<ArrayBuffer> {
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash }, false, ["sign"]);
  return crypto.subtle.sign("HMAC", k, encoder.encode(text));
}

async function siteAndBody(c: Context<{ Bindings: Env }>): Promise<{ site: Site; raw: string }> {
  const id = c.req.param("site") ?? "";
  const site = await routeToSite(c, id);
  if (!site) fail(404, "not_found", "No such site.");
  // Read as bytes and decoded, whatever the type (Twilio's form bodies are text too); streamed and
  // cut off at the limit, so a huge body is refused without being read to its end.
  return { site, raw: await readText(c.req.raw, MAX_BODY) };
}

const unverified = (): never => fail(401, "invalid_signature", "The request's signature does not verify.");

/**
 * Svix, as Resend signs webhooks: `svix-signature` holds space-separated `v1,<base64 HMAC-SHA256 of
 * "svix-id.svix-timestamp.body">`, keyed with the base64 secret after "whsec_".
 * https://docs.svix.com/receiving/verifying-payloads/how-manual
 */
export async function svixVerified(secret: string, headers: Headers, body: string, now: number): Promise<boolean> {
  const id = headers.get("svix-id") ?? "";
  const timestamp = headers.get("svix-timestamp") ?? "";
  const t = Number(timestamp);
  const key = bytes(secret.replace(/^whsec_/, ""));
  if (!id || !/^\d+$/.test(timestamp) || Math.abs(now / 1000 - t) > TOLERANCE_S || !key) return false;
  const expected = new Uint8Array(await hmac("SHA-256", key, `${id}.${timestamp}.${body}`));
  for (const part of (headers.get("svix-signature") ?? "").split(" ")) {
    const [version, sig] = part.split(",");
    const given = version === "v1" && sig ? bytes(sig) : null;
    if (given && given.length === expected.length && crypto.subtle.timingSafeEqual(given, expected)) return true;
  }
  return false;
}

const RESEND_EVENTS: Record<string, SuppressionReason> = {
  "email.bounced": "bounced",
  "email.complained": "complained",
};

feedback.post("/resend/:site", async (c) => {
  const { site, raw } = await siteAndBody(c);
  const secret = site.settings.resendWebhookSecret || c.env.RESEND_WEBHOOK_SECRET;
  if (!secret || !(await svixVerified(secret, c.req.raw.headers, raw, Date.now()))) unverified();
  let event: unknown;
  try {
    event = JSON.parse(raw);
  } catch {
    fail(400, "invalid_json", "Request body is not valid JSON.");
  }
  const reason = isDict(event) && typeof event.type === "string" ? RESEND_EVENTS[event.type] : undefined;
  const data = isDict(event) && isDict(event.data) ? event.data : {};
  const to = (Array.isArray(data.to) ? data.to : [data.to]).filter((a): a is string => typeof a === "string");
  if (reason) await suppress(c.env.DB, site.id, to.slice(0, 50), reason, Date.now());
  return c.json({ received: true, suppressed: reason ? to.length : 0 });
});

/** Postmark bounce types after which an address is not mailed again (soft bounces are retried by Postmark). */
const POSTMARK_PERMANENT = new Set(["HardBounce", "BadEmailAddress", "SpamComplaint", "ManuallyDeactivated"]);

/** Postmark sends the credentials put in the webhook's URL (`https://user:pass@…`) as HTTP Basic. */
feedback.post("/postmark/:site", async (c) => {
  const { site, raw } = await siteAndBody(c);
  const header = c.req.header("authorization") ?? "";
  const given = header.startsWith("Basic ") ? (bytes(header.slice(6)) ?? new Uint8Array()) : new Uint8Array();
  const expected = c.env.POSTMARK_WEBHOOK_AUTH;
  if (!expected || !(await sameSecret(new TextDecoder().decode(given), expected))) unverified();
  let record: unknown;
  try {
    record = JSON.parse(raw);
  } catch {
    fail(400, "invalid_json", "Request body is not valid JSON.");
  }
  if (!isDict(record) || typeof record.Email !== "string") return c.json({ received: true, suppressed: 0 });
  const complaint = record.RecordType === "SpamComplaint" || record.Type === "SpamComplaint";
  const permanent = complaint || (record.RecordType === "Bounce" && POSTMARK_PERMANENT.has(String(record.Type)));
  if (permanent) await suppress(c.env.DB, site.id, [record.Email], complaint ? "complained" : "bounced", Date.now());
  return c.json({ received: true, suppressed: permanent ? 1 : 0 });
});

/**
 * Twilio's signature: base64 HMAC-SHA1, keyed with the auth token, of the full URL Twilio called
 * followed by every POST parameter as name + value, sorted by name.
 * https://www.twilio.com/docs/usage/webhooks/webhooks-security
 */
export async function twilioVerified(token: string, url: string, params: URLSearchParams, signature: string) {
  const names = [...new Set(params.keys())].sort();
  const data =
    url +
    names
      .map((n) =>
        params
          .getAll(n)
          .map((v) => n + v)
          .join(""),
      )
      .join("");
  const expected = base64(await hmac("SHA-1", encoder.encode(token), data));
  return sameSecret(signature, expected);
}

/** Twilio's standard opt-out keywords (it answers the sender itself, and blocks further texts). */
const STOP = new Set(["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE", "STOP ALL"]);
/** "Attempt to send to unsubscribed recipient": a delivery status saying the number opted out. */
const OPTED_OUT = "21610";

/** A reply to a callback offer SMS that asks for the call (en, fr, ru; "1" and "YES" as Carts Guru takes them). */
const CALL = new Set(["CALL", "CALL ME", "1", "YES", "APPEL", "OUI", "ЗВОНОК", "ДА"]);
const CALLING: Record<string, string> = {
  en: "Thank you, we will call you back as soon as we can.",
  fr: "Merci, nous vous rappellerons dès que possible.",
  ru: "Спасибо, мы перезвоним вам как можно скорее.",
};
const twimlAnswer = (c: Context<{ Bindings: Env }>, message?: string) =>
  c.body(
    `<?xml version="1.0" encoding="UTF-8"?>${message ? `<Response><Message>${escapeXml(message)}</Message></Response>` : "<Response/>"}`,
    200,
    { "content-type": "text/xml" },
  );

feedback.post("/twilio/:site", async (c) => {
  const { site, raw } = await siteAndBody(c);
  const params = new URLSearchParams(raw);
  const token = c.env.TWILIO_AUTH_TOKEN;
  const signature = c.req.header("x-twilio-signature") ?? "";
  if (!token || !signature || !(await twilioVerified(token, c.req.url, params, signature))) unverified();
  const body = (params.get("Body") ?? "")
    .trim()
    .replace(/[.!]+$/, "")
    .toUpperCase();
  // A reply asking for the call, from a number a callback offer was texted to in the last days.
  const from = normalisePhone(params.get("From"));
  if (CALL.has(body) && from) {
    const at = await now(c.env);
    const offer = await latestOfferTo(c.env.DB, {
      siteId: site.id,
      phone: from,
      since: at - OFFER_DAYS * 86400_000,
      templates: CALLBACK_OFFER_TEMPLATES,
    });
    if (!offer || !phoneAllowed(from, phoneCountries(site))) return twimlAnswer(c);
    try {
      const { created } = await takeOffer(
        c.env,
        site,
        {
          contactId: offer.contact_id,
          messageId: offer.id,
          phone: from,
          via: "reply",
          wording: `Replied "${(params.get("Body") ?? "").slice(0, 40)}" to the callback offer SMS`,
          at,
        },
        (p) => c.executionCtx.waitUntil(p),
      );
      // One answer per offer: a second "CALL" is not texted back again.
      return twimlAnswer(c, created ? CALLING[localeOf(offer.locale)] : undefined);
    } catch (e) {
      if (isCapped(e)) return twimlAnswer(c);
      throw e;
    }
  }
  // Inbound text: the sender is From. Delivery status: the recipient is To.
  const number = STOP.has(body) ? params.get("From") : params.get("ErrorCode") === OPTED_OUT ? params.get("To") : null;
  if (number) await suppress(c.env.DB, site.id, [number], "stop", Date.now());
  // Empty TwiML: Twilio sends its own opt-out confirmation.
  return twimlAnswer(c);
});
