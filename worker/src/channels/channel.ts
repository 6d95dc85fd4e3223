import type { Env } from "../env";

/** The ways a campaign step reaches someone; each has its transports in `channels/index.ts`. */
export type ChannelName = "email" | "sms" | "call" | "webhook";

/** One rendered message on its way out. `messageId` doubles as the provider idempotency key. */
export interface Outgoing {
  messageId: number;
  siteId: string;
  channel: ChannelName;
  /** An email address, an E.164 phone number, or the webhook URL. */
  to: string;
  subject: string;
  /** Email: the HTML part. Empty for the other channels. */
  html: string;
  /** Call: the TwiML Twilio plays. */
  twiml?: string;
  /** Email: the text part. SMS: the message. Call: the script. Webhook: the JSON payload. */
  text: string;
  headers: Record<string, string>;
  /** Webhooks: the site's signing key (model/sites.ts `webhookSecret`). */
  signingSecret?: string;
  /** The site's sender (email "Name <address>", or the E.164 number of texts and calls); else the env's. */
  from?: string;
  /** Email Reply-To. */
  replyTo?: string;
}

/** Every transport has this shape; throwing means "try again later" (but see `NotConfigured`). */
export type Transport = (env: Env, message: Outgoing, now: number) => Promise<void>;

/**
 * How long a provider may take to answer before the try counts as failed (and is retried with the
 * same idempotency key): their APIs answer in well under a second; a hung connection must not hold
 * the sweep, which has a budget of its own.
 */
export const PROVIDER_TIMEOUT_MS = 10_000;

/** A provider refused the message; a 429's or 503's `Retry-After` says when to try again. */
export class ProviderError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly retryAfterMs: number,
  ) {
    super(message);
  }
}

/** `Retry-After` in seconds or as an HTTP date, in ms from `now`; 0 when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number {
  if (!header) return 0;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - now;
  // Capped at a day: a provider's typo must not park a message for years.
  return Number.isFinite(ms) ? Math.min(Math.max(0, ms), 86400_000) : 0;
}

/**
 * A provider answered with an error: only its status goes into `messages.reason`. The body is
 * whatever the other end chose to say — a merchant's webhook, or anything it redirects to — and
 * the reason is shown in the admin API; its status says enough to retry or to look.
 */
export async function expectOk(res: Response, provider: string): Promise<void> {
  await res.body?.cancel();
  if (res.ok) return;
  throw new ProviderError(
    `${provider} answered ${res.status}`,
    res.status,
    retryAfterMs(res.headers.get("retry-after")),
  );
}

/**
 * What no retry can fix: the deployment has no provider (or sender) for the channel. The sweep
 * dead-letters the message at once with this reason, so a missing secret is never counted as sent.
 */
export class NotConfigured extends Error {}
