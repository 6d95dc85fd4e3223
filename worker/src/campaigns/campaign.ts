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

/** A built-in campaign: when to schedule, when to stop, what to say. */
export interface Campaign {
  name: string;
  /** Statements run with every processed event of the contact (schedule, reset or cancel). */
  schedule(db: D1Database, siteId: string, contactId: string, now: number): D1PreparedStatement[];
  /** Statements run once step `m.step` was sent, e.g. to schedule the next step. */
  followUp(db: D1Database, m: { siteId: string; contactId: string; step: number }, now: number): D1PreparedStatement[];
  /** Checked again right before sending: a reason not to send, or null. */
  exitReason(ctx: SendContext): string | null;
  render(ctx: SendContext): Promise<Rendered>;
}
