import type { ChannelName } from "../campaigns/definition";
import type { Env } from "../env";
import { isDev } from "../env";
import type { Transport } from "./channel";
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
 * Which transport carries a channel: the provider whose secrets are set, else the outbox (what
 * the demo and a fresh install use). Webhooks always go to their URL.
 */
export function transportFor(env: Env, channel: ChannelName): Transport {
  const twilio = env.TWILIO_ACCOUNT_SID && env.TWILIO_AUTH_TOKEN && env.TWILIO_FROM;
  switch (channel) {
    case "email":
      return env.RESEND_API_KEY ? resend : env.POSTMARK_SERVER_TOKEN ? postmark : outbox;
    case "sms":
      return twilio ? twilioSms : outbox;
    case "call":
      return twilio ? twilioCall : outbox;
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
