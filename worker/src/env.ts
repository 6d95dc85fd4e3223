/** Bindings and settings of the Worker (see worker/wrangler.jsonc and demo-store/wrangler.jsonc). */
export interface Env {
  DB: D1Database;
  /** "development" turns on the demo site, `/v1/dev/*` and the dev clock. Never set in a deployment. */
  NUDGE_ENV?: string;
  /** HMAC key for signed links. A Worker secret in production (`wrangler secret put LINK_SECRET`). */
  LINK_SECRET?: string;
  // Channels (worker/src/channels): each provider is used when its secrets are set, else the outbox.
  /** Email over Resend (`wrangler secret put RESEND_API_KEY`); RESEND_API_URL only to point elsewhere. */
  RESEND_API_KEY?: string;
  RESEND_API_URL?: string;
  /** Email over Postmark (server token), when Resend is not configured. */
  POSTMARK_SERVER_TOKEN?: string;
  POSTMARK_API_URL?: string;
  /** Sender of email, e.g. "Shop <shop@example.com>". */
  EMAIL_FROM?: string;
  /** SMS and automated calls over Twilio. */
  TWILIO_ACCOUNT_SID?: string;
  TWILIO_AUTH_TOKEN?: string;
  TWILIO_FROM?: string;
  TWILIO_API_URL?: string;
  /** Raised provider rate limits, requests per second, as JSON: `{"resend": 10, "twilio_sms": 30}`. */
  PROVIDER_RATES?: string;
  /** Ingest rate limits (Rate Limiting bindings): per write key + client address, and per write key. */
  INGEST_CLIENT_LIMIT?: RateLimit;
  INGEST_KEY_LIMIT?: RateLimit;
  /**
   * "sweep" only stores accepted batches in the inbox and leaves applying them to the scheduled
   * sweep (a cheaper request; profiles up to a minute behind). Anything else (the default) stores
   * and applies them before answering (ingest/process.ts, `applyBatch`).
   */
  INGEST_PROCESSING?: string;
}

export const isDev = (env: Env): boolean => env.NUDGE_ENV === "development";
