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
