import type { Message } from "../ingest/validate";
import type { Site } from "../model/sites";

/** One processed event and the contact ingest applied it to. */
export interface AppliedEvent {
  contactId: string;
  event: Message;
}

/** A chunk of events ingest has just applied, in event order, with the time they were processed. */
export interface CampaignBatch {
  site: Site;
  now: number;
  events: AppliedEvent[];
}

/** What ingest calls for every chunk of processed events. */
export interface Campaign {
  name: string;
  /**
   * Statements committed with the chunk, after its effects on contacts, carts and orders and in the
   * same transaction (start, re-arm or end journeys; attribute orders). Their number must not grow
   * with the number of events: ingest's throughput is bounded by statements, so fold per contact
   * and write set-based SQL over the whole chunk.
   */
  onEvents(db: D1Database, batch: CampaignBatch): Promise<D1PreparedStatement[]>;
}
