/**
 * Creates a site and prints its keys — once; only the secret key's SHA-256 is stored.
 *
 *   npm run site:create -- --name "My shop" --url https://shop.example \
 *     [--origins https://shop.example,https://www.shop.example] [--time-zone Europe/London] \
 *     [--currency GBP] [--verify-identity] [--remote] [--config worker/wrangler.jsonc] \
 *     [--persist-to DIR] [--json]
 *
 * It runs `wrangler d1 execute` against the local database (default) or the deployed one
 * (--remote). That command takes no bound parameters, so the SQL text is constant except for ONE
 * hex literal carrying the site as JSON: hex digits cannot end a literal, so no input can change
 * the statement (the same guarantee as binding), and SQLite's JSON functions unpack it.
 */
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { parseArgs } from "node:util";

const { values: args } = parseArgs({
  options: {
    name: { type: "string" },
    url: { type: "string" },
    origins: { type: "string", default: "" },
    "time-zone": { type: "string", default: "UTC" },
    currency: { type: "string", default: "GBP" },
    "verify-identity": { type: "boolean", default: false },
    remote: { type: "boolean", default: false },
    config: { type: "string", default: "worker/wrangler.jsonc" },
    "persist-to": { type: "string" },
    json: { type: "boolean", default: false },
  },
});

function usage(problem: string): never {
  console.error(
    `site:create: ${problem}\nUsage: npm run site:create -- --name "My shop" --url https://shop.example [options]`,
  );
  process.exit(2);
}

const name = args.name?.trim() ?? "";
if (name.length < 1 || name.length > 200) usage("--name is required (at most 200 characters).");
const url = (() => {
  try {
    const u = new URL(args.url ?? "");
    if (u.protocol !== "https:" && u.protocol !== "http:") throw new Error();
    return u.href.replace(/\/$/, "");
  } catch {
    usage("--url must be the store's http(s) address, e.g. https://shop.example.");
  }
})();
const origins = args.origins
  .split(",")
  .map((o) => o.trim())
  .filter(Boolean);
for (const o of origins) {
  let ok = false;
  try {
    ok = new URL(o).origin === o;
  } catch {}
  if (!ok) usage(`--origins: "${o}" is not an origin (scheme://host[:port], no path).`);
}
const timeZone = args["time-zone"];
try {
  new Intl.DateTimeFormat("en", { timeZone });
} catch {
  usage(`--time-zone: "${timeZone}" is not an IANA time zone, e.g. Europe/London.`);
}
const currency = args.currency.toUpperCase();
if (!/^[A-Z]{3}$/.test(currency)) usage("--currency must be an ISO 4217 code, e.g. GBP.");

const token = (prefix: string, bytes: number) => `${prefix}_${randomBytes(bytes).toString("base64url")}`;
const site = {
  id: token("site", 9),
  name,
  url,
  publicKey: token("pk", 18),
  secretHash: "",
  allowedOrigins: origins,
  timeZone,
  currency,
  identitySecret: args["verify-identity"] ? token("iv", 32) : null,
  createdAt: Date.now(),
};
const secretKey = token("sk", 32);
site.secretHash = createHash("sha256").update(secretKey).digest("hex");

const hex = Buffer.from(JSON.stringify(site), "utf8").toString("hex");
const sql = `INSERT INTO sites (id, name, public_key, secret_hash, url, allowed_origins, time_zone, currency, created_at, identity_secret)
SELECT s ->> 'id', s ->> 'name', s ->> 'publicKey', s ->> 'secretHash', s ->> 'url', s -> 'allowedOrigins',
  s ->> 'timeZone', s ->> 'currency', s ->> 'createdAt', s ->> 'identitySecret'
FROM (SELECT CAST(X'${hex}' AS TEXT) AS s)`;

const wrangler = ["node_modules/wrangler/bin/wrangler.js", "d1", "execute", "DB", "-c", args.config, "--command", sql];
wrangler.push(args.remote ? "--remote" : "--local", "--yes");
if (args["persist-to"]) wrangler.push("--persist-to", args["persist-to"]);
try {
  execFileSync(process.execPath, wrangler, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
  });
} catch (e) {
  const out = e as { stdout?: Buffer; stderr?: Buffer };
  console.error(
    `site:create: wrangler d1 execute failed (are the migrations applied?)\n${out.stderr ?? ""}${out.stdout ?? ""}`,
  );
  process.exit(1);
}

const keys = { siteId: site.id, publicKey: site.publicKey, secretKey, identitySecret: site.identitySecret };
if (args.json) console.log(JSON.stringify(keys));
else {
  console.log(`Created site ${site.id} (${name}) in the ${args.remote ? "remote" : "local"} database.`);
  console.log(`  public key (the snippet's data-key): ${site.publicKey}`);
  console.log(`  secret key (admin API):               ${secretKey}`);
  if (site.identitySecret) console.log(`  identity secret (userHash HMAC key): ${site.identitySecret}`);
  console.log("The secret keys are shown only now: store them in your secret manager.");
}
