/** Bindings and settings of the Worker (see worker/wrangler.jsonc and demo-store/wrangler.jsonc). */
export interface Env {
  DB: D1Database;
  /** "development" turns on the demo site, `/v1/dev/*` and the dev clock. Never set in a deployment. */
  NUDGE_ENV?: string;
  /** HMAC key for signed links. A Worker secret in production (`wrangler secret put LINK_SECRET`). */
  LINK_SECRET?: string;
  /**
   * The Worker's public address (e.g. https://nudge.shop.example), on which links in messages are
   * built; a site's `publicUrl` setting overrides it. Without either, production sends nothing.
   */
  PUBLIC_URL?: string;
  /** Bearer token of the operator API (`/v1/operator/*`: sites, keys, settings). A Worker secret. */
  OPERATOR_TOKEN?: string;
  /** Signing secrets of provider feedback webhooks (routes/provider-hooks.ts): Resend's "whsec_…". */
  RESEND_WEBHOOK_SECRET?: string;
  /** "user:password" that Postmark sends as HTTP Basic on its bounce and spam webhooks. */
  POSTMARK_WEBHOOK_AUTH?: string;
  // Channels (worker/src/channels): each provider is used when its secrets are set; else, in
  // development only, the outbox. A deployment without a provider refuses the channel.
  /** Email over Resend (`wrangler secret put RESEND_API_KEY`); RESEND_API_URL only to point elsewhere. */
  RESEND_API_KEY?: string;
  RESEND_API_URL?: string;
  /** Email over Postmark (server token), when Resend is not configured. */
  POSTMARK_SERVER_TOKEN?: string;
  POSTMARK_API_URL?: string;
  /** Sender of email, e.g. "Shop <shop@example.com>", when the site sets none (`senderEmail`). */
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
  /**
   * A Cloudflare Queue (optional): when bound, a request validates its batch and sends it here, and
   * the Worker's queue consumer applies many batches per invocation (ingest/queue.ts: `IngestJob`). Unbound, the
   * request applies its batch itself.
   */
  INGEST_QUEUE?: Queue;
}

export const isDev = (env: Env): boolean => env.NUDGE_ENV === "development";
