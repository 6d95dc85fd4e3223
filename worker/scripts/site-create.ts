/**
 * Creates a site through the operator API and prints its keys — once; only the secret key's
 * SHA-256 is stored. A thin client of `POST /v1/operator/sites`, which validates everything.
 *
 *   OPERATOR_TOKEN=… npm run site:create -- --endpoint https://nudge.shop.example \
 *     --name "My shop" --url https://shop.example [--origins https://shop.example,https://www.shop.example] \
 *     [--time-zone Europe/London] [--currency GBP] [--sender-name "My shop"] [--sender-email shop@shop.example] \
 *     [--public-url https://shop.example/nudge] [--verify-identity] [--json]
 *
 * The endpoint may also come from NUDGE_ENDPOINT, the token from --token (it then shows in the
 * shell's history; prefer the variable).
 */
import { parseArgs } from "node:util";

const { values: args } = parseArgs({
  options: {
    endpoint: { type: "string", default: process.env.NUDGE_ENDPOINT ?? "" },
    token: { type: "string", default: process.env.OPERATOR_TOKEN ?? "" },
    name: { type: "string" },
    url: { type: "string" },
    origins: { type: "string" },
    "time-zone": { type: "string" },
    currency: { type: "string" },
    "sender-name": { type: "string" },
    "sender-email": { type: "string" },
    "public-url": { type: "string" },
    "verify-identity": { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  },
});

function usage(problem: string): never {
  console.error(
    `site:create: ${problem}\nUsage: OPERATOR_TOKEN=… npm run site:create -- --endpoint https://nudge.example --name "My shop" --url https://shop.example [options]`,
  );
  process.exit(2);
}

if (!args.endpoint) usage("--endpoint (or NUDGE_ENDPOINT) is required: the Worker's address.");
if (!args.token) usage("OPERATOR_TOKEN (or --token) is required: the Worker's operator secret.");

// Only what was given; the Worker validates each field and names the one it refuses.
const body: Record<string, unknown> = {
  name: args.name,
  url: args.url,
  allowedOrigins: args.origins
    ?.split(",")
    .map((o) => o.trim())
    .filter(Boolean),
  timeZone: args["time-zone"],
  currency: args.currency,
  senderName: args["sender-name"],
  senderEmail: args["sender-email"],
  publicUrl: args["public-url"],
  verifyIdentity: args["verify-identity"] || undefined,
};

const res = await fetch(`${args.endpoint.replace(/\/+$/, "")}/v1/operator/sites`, {
  method: "POST",
  headers: { authorization: `Bearer ${args.token}`, "content-type": "application/json" },
  body: JSON.stringify(body),
}).catch((e: unknown) => usage(`cannot reach ${args.endpoint}: ${e instanceof Error ? e.message : String(e)}`));
const answer = (await res.json().catch(() => ({}))) as {
  site?: { id: string; name: string };
  keys?: { publicKey: string; secretKey: string; identitySecret: string | null };
  error?: { message: string };
};
if (!res.ok || !answer.site || !answer.keys) {
  console.error(`site:create: the Worker answered ${res.status}: ${answer.error?.message ?? "no site"}`);
  process.exit(1);
}

const { site, keys } = answer;
if (args.json) console.log(JSON.stringify({ siteId: site.id, ...keys }));
else {
  console.log(`Created site ${site.id} (${site.name}).`);
  console.log(`  public key (the snippet's data-key): ${keys.publicKey}`);
  console.log(`  secret key (admin API):               ${keys.secretKey}`);
  if (keys.identitySecret) console.log(`  identity secret (userHash HMAC key): ${keys.identitySecret}`);
  console.log("The secret keys are shown only now: store them in your secret manager.");
}
