/**
 * Moves a site to another D1 database through the operator API, step by step until done
 * (worker/src/jobs/move.ts): the site answers 503 (clients retry) from the first step until the
 * switch, which is a few seconds of copying per 10 000 rows after a 30 s pause.
 *
 *   OPERATOR_TOKEN=… npm run site:move -- --endpoint https://nudge.shop.example --site site_… --to DB_BIG
 *   OPERATOR_TOKEN=… npm run site:move -- --endpoint … --site site_… --abort
 *
 * The new database must be bound to the Worker (a `d1_databases` entry with binding DB_<NAME>) and
 * migrated like DB; best an empty one: row ids are copied as they are, and a clash stops the move
 * (abort, then move to an empty database).
 */
import { parseArgs } from "node:util";

const { values: args } = parseArgs({
  options: {
    endpoint: { type: "string", default: process.env.NUDGE_ENDPOINT ?? "" },
    token: { type: "string", default: process.env.OPERATOR_TOKEN ?? "" },
    site: { type: "string" },
    to: { type: "string" },
    abort: { type: "boolean", default: false },
  },
});

function usage(problem: string): never {
  console.error(
    `site:move: ${problem}\nUsage: OPERATOR_TOKEN=… npm run site:move -- --endpoint https://nudge.example --site <id> (--to DB_<NAME> | --abort)`,
  );
  process.exit(2);
}

if (!args.endpoint) usage("--endpoint (or NUDGE_ENDPOINT) is required: the Worker's address.");
if (!args.token) usage("OPERATOR_TOKEN (or --token) is required: the Worker's operator secret.");
if (!args.site) usage("--site is required.");
if (!args.abort && !args.to) usage("--to (the new database's binding name) or --abort is required.");

const url = `${args.endpoint.replace(/\/+$/, "")}/v1/operator/sites/${encodeURIComponent(args.site)}/move`;
for (;;) {
  const res = await fetch(url, {
    method: args.abort ? "DELETE" : "POST",
    headers: { authorization: `Bearer ${args.token}`, "content-type": "application/json" },
    body: args.abort ? undefined : JSON.stringify({ to: args.to }),
  }).catch((e: unknown) => usage(`cannot reach ${args.endpoint}: ${e instanceof Error ? e.message : String(e)}`));
  const answer = (await res.json().catch(() => ({}))) as {
    state?: string;
    home?: string;
    rows?: number;
    retryAfter?: number;
    error?: { message: string };
  };
  if (!res.ok || !answer.state) {
    console.error(`site:move: the Worker answered ${res.status}: ${answer.error?.message ?? "no state"}`);
    process.exit(1);
  }
  console.log(
    `${new Date().toISOString()} ${answer.state} (home ${answer.home}${answer.rows ? `, ${answer.rows} rows` : ""})`,
  );
  if (answer.state === "done") break;
  await new Promise((r) => setTimeout(r, (answer.retryAfter ?? 0) * 1000));
}
