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
  /** The site's sender (email "Name <address>", or the E.164 number of texts and calls); else the env's. */
  from?: string;
  /** Email Reply-To. */
  replyTo?: string;
  /** The site's webhook signing key; else WEBHOOK_SECRET. */
  secret?: string;
}

/** Every transport has this shape; throwing means "try again later" (but see `NotConfigured`). */
export type Transport = (env: Env, message: Outgoing, now: number) => Promise<void>;

/**
 * What no retry can fix: the deployment has no provider (or sender) for the channel. The sweep
 * dead-letters the message at once with this reason, so a missing secret is never counted as sent.
 */
export class NotConfigured extends Error {}

/** A provider answered with an error: the status and the start of its body go into `messages.reason`. */
export async function expectOk(res: Response, provider: string): Promise<void> {
  if (res.ok) return;
  const body = (await res.text()).slice(0, 200);
  throw new Error(`${provider} answered ${res.status}: ${body}`);
}
