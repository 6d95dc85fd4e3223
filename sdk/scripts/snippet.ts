/**
 * The paste-ready snippet: the built loader stub (dist/cdn/sdk/snippet.js) with the SDK's address
 * filled in, and the `init` call with the site's public key. The build leaves a placeholder where
 * the address goes, so one build serves every store and nobody edits a minified file by hand.
 *
 *   npm run snippet -- --key pk_live_… --endpoint https://nudge.shop.example
 *     the SDK from the Worker (<endpoint>/sdk/nudge.js), which sends back to where it came from
 *   npm run snippet -- --key pk_live_… --sdk https://shop.example/sdk/nudge.js [--endpoint …]
 *     the SDK from another address (e.g. a Workers route on the shop's own domain)
 *
 * The endpoint may also come from NUDGE_ENDPOINT. Needs `npm run build` first.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

/** What the build puts where the SDK's address goes (rollup.config.ts defines __NUDGE_SRC__ as it). */
export const SDK_URL_PLACEHOLDER = "NUDGE_SDK_URL";

export const STUB_FILE = "dist/cdn/sdk/snippet.js";

export interface SnippetOptions {
  /** The SDK's address: an http(s) URL, or a path from the shop's root (`/sdk/nudge.js`). */
  sdk: string;
  /** The site's public key. */
  key: string;
  /** Where the SDK sends events, when not to the origin it was loaded from. */
  endpoint?: string;
}

/** A string literal safe inside an inline `<script>`: no `</script>` can close it early. */
const literal = (s: string) => JSON.stringify(s).replace(/</g, "\\u003c");

function httpUrl(value: string, what: string): URL {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {}
  if (!url || !/^https?:$/.test(url.protocol)) throw new Error(`${what} must be an http(s) URL, not "${value}".`);
  return url;
}

/** An absolute address, or a path from the shop's root (`//host/…` is neither: refused). */
function checkSdk(sdk: string): string {
  if (!/^\/(?!\/)/.test(sdk)) return httpUrl(sdk, "the SDK address").href;
  const url = new URL(sdk, "https://shop.invalid");
  return url.pathname + url.search;
}

const checkEndpoint = (endpoint: string) => httpUrl(endpoint, "the endpoint").href.replace(/\/+$/, "");

/** The built stub with the SDK's address in place of the placeholder. */
export function stubLoading(stub: string, sdk: string): string {
  const parts = stub.trim().split(literal(SDK_URL_PLACEHOLDER));
  if (parts.length !== 2)
    throw new Error(`${STUB_FILE} holds no SDK address placeholder: was it built by rollup.config.ts?`);
  return parts.join(literal(checkSdk(sdk)));
}

/** The tag a merchant pastes into every page's `<head>`. */
export function snippetTag(stub: string, { sdk, key, endpoint }: SnippetOptions): string {
  if (!/^pk_[\w-]{1,100}$/.test(key)) throw new Error(`the key must be a site's public key (pk_…), not "${key}".`);
  const options = [`key: ${literal(key)}`];
  if (endpoint !== undefined) options.push(`endpoint: ${literal(checkEndpoint(endpoint))}`);
  return `<script>${stubLoading(stub, sdk)}\nnudge("init", { ${options.join(", ")} });</script>`;
}

export function readStub(): string {
  try {
    return readFileSync(STUB_FILE, "utf8");
  } catch {
    throw new Error(`${STUB_FILE} is missing: run \`npm run build\` first.`);
  }
}

if (import.meta.main) {
  const { values: args } = parseArgs({
    options: {
      key: { type: "string" },
      sdk: { type: "string" },
      endpoint: { type: "string", default: process.env.NUDGE_ENDPOINT },
    },
  });
  try {
    if (!args.key) throw new Error("--key is required: the site's public key (pk_…).");
    if (!args.sdk && !args.endpoint) throw new Error("--endpoint (the Worker's address) or --sdk is required.");
    // From the Worker, the SDK finds its way back by itself: it sends to the origin it came from.
    const options = args.sdk
      ? { sdk: args.sdk, key: args.key, endpoint: args.endpoint }
      : { sdk: `${checkEndpoint(args.endpoint as string)}/sdk/nudge.js`, key: args.key };
    console.log(snippetTag(readStub(), options));
  } catch (e) {
    console.error(
      `snippet: ${(e as Error).message}\nUsage: npm run snippet -- --key pk_live_… (--endpoint https://nudge.example | --sdk https://…/nudge.js [--endpoint …])`,
    );
    process.exit(2);
  }
}
