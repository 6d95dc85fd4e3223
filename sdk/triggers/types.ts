/**
 * What the SDK core lends the onsite code. Plain (unmangled) names: the core and the lazily loaded
 * chunks are minified separately, so `_`-prefixed fields would not line up across them.
 * The shapes the Worker serves (config, widgets, visitor) are the wire contract, in sdk/contract.ts.
 */
export interface Host {
  endpoint: string;
  key: string;
  aid(): string;
  track(event: string, properties?: Record<string, unknown>): void;
}
