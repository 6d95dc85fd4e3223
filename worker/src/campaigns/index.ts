import type { Campaign } from "./campaign";
import { campaignStatements } from "./engine";

/** Every campaign is data now (table `campaigns`); one engine runs them all. */
const engine: Campaign = { name: "engine", onEvents: campaignStatements };

export const CAMPAIGNS: ReadonlyMap<string, Campaign> = new Map([[engine.name, engine]]);
