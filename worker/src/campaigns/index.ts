import { abandonedCart } from "./abandoned-cart";
import type { Campaign } from "./campaign";

export const CAMPAIGNS: ReadonlyMap<string, Campaign> = new Map([abandonedCart].map((c) => [c.name, c]));
