import type { Env } from "../env";

/** One rendered message on its way out. `messageId` doubles as the provider idempotency key. */
export interface Outgoing {
  messageId: number;
  siteId: string;
  to: string;
  subject: string;
  html: string;
  text: string;
  headers: Record<string, string>;
}

/** Every channel adapter has this shape; throwing means "try again later". */
export type Channel = (env: Env, message: Outgoing, now: number) => Promise<void>;
