import type { Message } from "../ingest/validate";
import type { Site } from "../model/sites";

export interface CampaignEvent {
  site: Site;
  contactId: string;
  event: Message;
  now: number;
}

/** What ingest calls for every processed event. */
export interface Campaign {
  name: string;
  /**
   * Statements committed with the event, in the same transaction as its effects on the contact,
   * cart and orders (start, re-arm or end journeys; attribute an order).
   */
  onEvent(db: D1Database, e: CampaignEvent): Promise<D1PreparedStatement[]>;
}
