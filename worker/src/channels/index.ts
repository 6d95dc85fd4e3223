import type { Env } from "../env";
import { isDev } from "../env";
import { publicBase } from "../lib/links";
import type { Site } from "../model/sites";
import { NotConfigured } from "./channel";
import type { ChannelName, Transport } from "./channel";
import { postmark, resend } from "./email";
import { outbox } from "./outbox";
import { twilioCall, twilioSms } from "./twilio";
import { webhook } from "./webhook";

/** Both, in order: development shows webhooks in the mailbox too. */
const both =
  (a: Transport, b: Transport): Transport =>
  async (env, m, now) => {
    await a(env, m, now);
    await b(env, m, now);
  };

/**
 * What a deployment lacks to send on `channel` for `site`, naming the secret or setting to add;
 * null when it can send. Development lacks nothing: the outbox stands in for every provider.
 * Campaign steps on such a channel cannot be enabled (routes/campaigns.ts), and due messages on it
 * are dead-lettered with this reason (jobs/sweep.ts) — never stored in a table and counted as sent.
 */
export function missingSetup(env: Env, site: Site, channel: ChannelName): string | null {
  if (isDev(env)) return null;
  const s = site.settings;
  switch (channel) {
    case "email":
      if (!env.RESEND_API_KEY && !env.POSTMARK_SERVER_TOKEN)
        return "No email provider: set the RESEND_API_KEY (or POSTMARK_SERVER_TOKEN) secret.";
      if (!s.senderEmail && !env.EMAIL_FROM)
        return "No email sender: set the site's senderEmail or the EMAIL_FROM var.";
      break;
    case "sms":
    case "call":
      if (!env.TWILIO_ACCOUNT_SID || !env.TWILIO_AUTH_TOKEN)
        return "No SMS and call provider: set the TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN secrets.";
      if (!s.smsFrom && !env.TWILIO_FROM) return "No sender number: set the site's smsFrom or the TWILIO_FROM var.";
      break;
    case "webhook":
      return null; // signed with the site's own key, made on first need; a webhook carries no links
  }
  if (!publicBase(env, site))
    return "No public address for links in messages: set the PUBLIC_URL var or the site's publicUrl.";
  if (!env.LINK_SECRET) return "No key to sign the links in messages: set the LINK_SECRET secret.";
  return null;
}

/**
 * Which transport carries a channel: the provider whose secrets are set; in development only,
 * else the outbox (what the demo mailbox shows). Webhooks always go to their URL.
 */
export function transportFor(env: Env, channel: ChannelName): Transport {
  const twilio = env.TWILIO_ACCOUNT_SID && env.TWILIO_AUTH_TOKEN;
  const fallback: Transport = isDev(env)
    ? outbox
    : async () => {
        throw new NotConfigured(`No provider for ${channel} in this deployment.`);
      };
  switch (channel) {
    case "email":
      return env.RESEND_API_KEY ? resend : env.POSTMARK_SERVER_TOKEN ? postmark : fallback;
    case "sms":
      return twilio ? twilioSms : fallback;
    case "call":
      return twilio ? twilioCall : fallback;
    case "webhook":
      return isDev(env) ? both(webhook, outbox) : webhook;
  }
}

/**
 * Requests per second each provider takes by default; the sweep paces its sends to them. Resend's
 * default API limit is 2/s per team; Twilio queues Messages but a long-code number sends ~1 SMS/s and
 * an account starts ~1 call/s; Postmark publishes no hard limit (10/s keeps well clear of
 * throttling). `PROVIDER_RATES` (JSON, e.g. `{"resend": 10}`) sets an account's raised limits.
 */
const RATES: Record<string, number> = { resend: 2, postmark: 10, twilio_sms: 1, twilio_call: 1 };

export function providerFor(env: Env, channel: ChannelName): { name: string; perSecond: number } {
  const transport = transportFor(env, channel);
  const name =
    transport === resend
      ? "resend"
      : transport === postmark
        ? "postmark"
        : transport === twilioSms
          ? "twilio_sms"
          : transport === twilioCall
            ? "twilio_call"
            : channel === "webhook"
              ? "webhook"
              : "outbox";
  let custom: unknown = null;
  try {
    custom = env.PROVIDER_RATES ? JSON.parse(env.PROVIDER_RATES) : null;
  } catch {
    custom = null;
  }
  const set = custom && typeof custom === "object" ? (custom as Record<string, unknown>)[name] : undefined;
  const perSecond = typeof set === "number" && set > 0 ? set : (RATES[name] ?? Number.POSITIVE_INFINITY);
  return { name, perSecond };
}
