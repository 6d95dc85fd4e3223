import type { Channel } from "./channel";
import { outbox } from "./outbox";

export const CHANNELS: ReadonlyMap<string, Channel> = new Map([["outbox", outbox]]);
