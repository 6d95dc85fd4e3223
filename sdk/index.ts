/**
 * Nudge browser SDK as ES modules, for stores that bundle their own JavaScript:
 * `import { init, track } from "nudge"`. The script-tag build (global.ts) wraps the same functions.
 */
export { consent, flush, identify, init, on, page, reset, track } from "./client";
export type { Consent, Envelope, InitOptions, Properties, SdkEvents, Traits } from "./types";
