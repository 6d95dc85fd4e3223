import type { Message } from "../ingest/validate";
import type { CartLine } from "../model/carts";
import type { Site } from "../model/sites";

export interface Recipient {
  id: string;
  email: string | null;
  name: string | null;
  unsubscribed: boolean;
}

export interface SendContext {
  step: number;
  site: Site;
  contact: Recipient;
  lines: CartLine[];
  links: { restore: string; unsubscribe: string };
}

export interface Rendered {
  subject: string;
  html: string;
  text: string;
}

export interface CampaignEvent {
  site: Site;
  contactId: string;
  event: Message;
  now: number;
}

/** A built-in campaign: when to schedule, when to stop, what to say. */
export interface Campaign {
  name: string;
  /**
   * Statements committed with every processed event, in the same transaction as the event's
   * effects on the contact and cart (schedule, reset or cancel this campaign's messages).
   */
  onEvent(db: D1Database, e: CampaignEvent): D1PreparedStatement[];
  /** Statements run once step `m.step` was sent, e.g. to schedule the next step. */
  followUp(db: D1Database, m: { siteId: string; contactId: string; step: number }, now: number): D1PreparedStatement[];
  /** Checked again right before sending: a reason not to send, or null. */
  exitReason(ctx: SendContext): string | null;
  render(ctx: SendContext): Promise<Rendered>;
}
