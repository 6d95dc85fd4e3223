/** Options of `nudge('init', …)`. */
export interface InitOptions {
  /** The site's public key (pk_…). */
  key: string;
  /** Where the Nudge Worker runs. Defaults to the origin the SDK script was loaded from. */
  endpoint?: string;
  /** Hold everything in memory — nothing stored, nothing sent — until `consent({ analytics: true })`. */
  requireConsent?: boolean;
  /** Honour Global Privacy Control and Do Not Track by sending nothing. Default true. */
  respectPrivacySignals?: boolean;
  /** Log every call, request and error to the console. */
  debug?: boolean;
  /** Track a page view on init and on single-page-app navigations. Default true. */
  trackPages?: boolean;
  /**
   * Identify the shopper by an email typed into a checkout or newsletter form (see capture.ts
   * for which fields), once they gave `consent({ marketing: true })`. Default false.
   */
  captureEmails?: boolean;
  /** Show the site's onsite widgets (configured on the Worker). Default true. */
  onsite?: boolean;
}

/** Options of `identify`. */
export interface IdentifyOptions {
  /** Identity verification: HMAC-SHA256 (hex) of the user id, computed by the merchant's server. */
  userHash?: string;
}

export type Properties = Record<string, unknown>;

/** What `identify` accepts besides a plain user id. */
export interface Traits extends Properties {
  userId?: string;
  email?: string;
  phone?: string;
  name?: string;
}

export interface Consent {
  analytics?: boolean;
  marketing?: boolean;
}

/** Events the SDK emits to `on(…)` listeners. */
export interface SdkEvents {
  /** Something failed (storage, network, bad input); the page is never affected. */
  error: Error;
  /** A batch reached the server. */
  sent: { count: number };
  /** An event was dropped (queue full, rejected by the server). */
  dropped: { count: number; reason: string };
}

/** An event as it travels: the shape of Segment's HTTP Tracking API. */
export interface Envelope {
  type: "track" | "identify" | "page" | "alias";
  messageId: string;
  anonymousId: string;
  userId?: string;
  event?: string;
  name?: string;
  properties?: Properties;
  traits?: Properties;
  /**
   * Page and device. One object for all of a page's events, replaced (never changed) when the page
   * or the identity changes: the queue sends it once per batch, and a new object starts a batch.
   */
  context: Properties;
  /** ISO 8601 once stamped by the queue; the call's `Date.now()` until then. */
  timestamp: string | number;
}
