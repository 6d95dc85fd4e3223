import type { ChannelName } from "../campaigns/definition";
import type { Env } from "../env";

/** One rendered message on its way out. `messageId` doubles as the provider idempotency key. */
export interface Outgoing {
  messageId: number;
  siteId: string;
  channel: ChannelName;
  /** An email address, an E.164 phone number, or the webhook URL. */
  to: string;
  subject: string;
  /** Email: the HTML part. Call: the TwiML. Webhook: empty. */
  html: string;
  /** Email: the text part. SMS: the message. Call: the script. Webhook: the JSON payload. */
  text: string;
  headers: Record<string, string>;
  /** Webhooks: the site's signing key (model/sites.ts `webhookSecret`). */
  signingSecret?: string;
}

/** Every transport has this shape; throwing means "try again later". */
export type Transport = (env: Env, message: Outgoing, now: number) => Promise<void>;

/**
 * A provider answered with an error: only its status goes into `messages.reason`. The body is
 * whatever the other end chose to say — a merchant's webhook, or anything it redirects to — and
 * the reason is shown in the admin API; its status says enough to retry or to look.
 */
export async function expectOk(res: Response, provider: string): Promise<void> {
  if (res.ok) return;
  await res.body?.cancel();
  throw new Error(`${provider} answered ${res.status}`);
}
