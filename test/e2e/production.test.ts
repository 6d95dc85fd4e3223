import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { flush, useBrowser, watchErrors } from "./browser";

/**
 * The production path, with no demo code: worker/wrangler.jsonc under `wrangler dev
 * --test-scheduled` (no development setting) with its own local D1, provider secrets given as
 * vars, and a loopback stand-in for Resend. A site is made over HTTP with the operator token; a
 * plain store page on another origin pastes the snippet; the cron sends; the mail's links are on
 * the Worker's public address, restore the cart, and stop at the order; one-click unsubscribe works.
 */

const WRANGLER = "node_modules/wrangler/bin/wrangler.js";
const PERSIST = resolve(".wrangler/e2e-production-state");
const OPERATOR_TOKEN = "e2e-operator-token-0123456789";
const RESEND_KEY = "re_e2e_production";
const wranglerEnv = { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" };

const browser = useBrowser();

interface Mail {
  headers: Record<string, string>;
  body: { from: string; to: string[]; subject: string; html: string; text: string; headers: Record<string, string> };
}

const read = (req: IncomingMessage) =>
  new Promise<string>((done) => {
    let text = "";
    req.on("data", (c: Buffer) => {
      text += c.toString("utf8");
    });
    req.on("end", () => done(text));
  });

/**
 * Resend as its API reference documents it: `POST /emails`, `Authorization: Bearer re_…`, a JSON
 * body with from, to[], subject, html, text and headers, and an `Idempotency-Key`. Anything else
 * gets the 401/422 Resend would answer, and the Worker would retry (and the test would time out).
 */
function resendProblem(req: IncomingMessage, raw: string): [number, string] | null {
  if (req.method !== "POST" || req.url !== "/emails") return [404, "not found"];
  if (req.headers.authorization !== `Bearer ${RESEND_KEY}`) return [401, "missing or wrong API key"];
  if (!req.headers["content-type"]?.startsWith("application/json")) return [422, "content-type must be JSON"];
  if (!req.headers["idempotency-key"]) return [422, "missing Idempotency-Key"];
  let b: Record<string, unknown>;
  try {
    b = JSON.parse(raw);
  } catch {
    return [422, "invalid JSON"];
  }
  const strings = ["from", "subject", "html", "text"].every((k) => typeof b[k] === "string" && b[k] !== "");
  const headers = typeof b.headers === "object" && b.headers !== null && !Array.isArray(b.headers);
  if (!strings || !Array.isArray(b.to) || typeof b.to[0] !== "string" || !headers)
    return [422, "from, to[], subject, html, text and headers required"];
  return null;
}

const listen = (server: Server) =>
  new Promise<number>((done) => server.listen(0, "127.0.0.1", () => done((server.address() as AddressInfo).port)));

let worker = "";
let store = "";
let snippet = "";
let secretKey = "";
let child: ChildProcess | undefined;
const mails: Mail[] = [];
const servers: Server[] = [];

/** The store's page: nothing but the pasted snippet, a cart list, and a button wired to nudge(). */
function storePage(): string {
  // The tag exactly as the operator API handed it out for this site.
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Plain shop</title>
${snippet}</head>
<body><h1>Plain shop</h1>
<button id="add" type="button">Add the E7247 speaker</button>
<ul id="cart"></ul>
<script>
  document.getElementById("add").onclick = () => nudge("track", "Product Added", {
    product_id: "E7247", name: "E7247 speaker", price: 79, quantity: 1, currency: "GBP",
    url: location.origin + "/p/E7247" });
  // A restore link lands on /cart?restore=<base64url JSON [{ product_id, quantity }]>.
  const restore = new URLSearchParams(location.search).get("restore");
  if (restore) {
    const lines = JSON.parse(atob(restore.replace(/-/g, "+").replace(/_/g, "/")));
    document.getElementById("cart").innerHTML = lines
      .map((l) => '<li data-product="' + l.product_id + '">' + l.product_id + " × " + l.quantity + "</li>").join("");
  }
</script></body></html>`;
}

async function freePort(): Promise<number> {
  const s = createServer();
  const port = await listen(s);
  await new Promise((done) => s.close(done));
  return port;
}

beforeAll(async () => {
  const resend = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const raw = await read(req);
    const problem = resendProblem(req, raw);
    res.writeHead(problem?.[0] ?? 200, { "content-type": "application/json" });
    if (problem) return res.end(JSON.stringify({ name: "validation_error", message: problem[1] }));
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
    mails.push({ headers, body: JSON.parse(raw) });
    res.end(JSON.stringify({ id: `email-${mails.length}` }));
  });
  const shop = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? "/", store).pathname;
    if (path !== "/" && path !== "/cart") {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(storePage());
  });
  servers.push(resend, shop);
  const resendUrl = `http://127.0.0.1:${await listen(resend)}`;
  store = `http://127.0.0.1:${await listen(shop)}`;
  const port = await freePort();
  worker = `http://127.0.0.1:${port}`;

  rmSync(PERSIST, { recursive: true, force: true });
  const config = ["-c", "worker/wrangler.jsonc", "--persist-to", PERSIST];
  // The schema is applied while wrangler dev starts (about half of this hook's time each); nothing
  // reads the database before both are done.
  const migrated = promisify(execFile)(
    process.execPath,
    [WRANGLER, "d1", "migrations", "apply", "DB", "--local", ...config],
    { env: wranglerEnv },
  );
  const vars = {
    PUBLIC_URL: worker,
    OPERATOR_TOKEN,
    LINK_SECRET: "e2e-link-secret",
    RESEND_API_KEY: RESEND_KEY,
    RESEND_API_URL: resendUrl,
  };
  child = spawn(
    process.execPath,
    [
      WRANGLER,
      "dev",
      ...config,
      "--test-scheduled",
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
    ],
    { env: wranglerEnv, stdio: ["ignore", "pipe", "pipe"] },
  );
  let log = "";
  child.stdout?.on("data", (d) => {
    log += d;
  });
  child.stderr?.on("data", (d) => {
    log += d;
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await fetch(`${worker}/sdk/nudge.js`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`wrangler dev did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  await migrated;
});

afterAll(async () => {
  child?.kill("SIGTERM");
  await Promise.all(servers.map((s) => new Promise((done) => s.close(done))));
});

function api(path: string, init: { method?: string; body?: unknown; key?: string } = {}) {
  return fetch(`${worker}${path}`, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers: { authorization: `Bearer ${init.key ?? secretKey}`, "content-type": "application/json" },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
}

/** What a Workers cron does, through wrangler's --test-scheduled endpoint. */
const cron = async () => expect((await fetch(`${worker}/__scheduled?cron=*+*+*+*+*`)).status).toBe(200);

describe("production, end to end (worker/wrangler.jsonc, no demo code)", () => {
  it("should take a site made over HTTP from a pasted snippet to a recovered cart, an order and an unsubscribe", async () => {
    // The operator creates the site; the token is the only way in.
    expect((await api("/v1/operator/sites", { key: "wrong", body: {} })).status).toBe(401);
    const created = await api("/v1/operator/sites", {
      key: OPERATOR_TOKEN,
      body: {
        name: "Plain shop",
        url: store,
        allowedOrigins: [store],
        senderName: "Plain shop",
        senderEmail: "hello@plain.example",
      },
    });
    expect(created.status).toBe(201);
    const answer = await created.json();
    secretKey = answer.keys.secretKey;
    snippet = answer.site.snippet;
    expect(snippet).toBe(`<script async src="${worker}/sdk/nudge.js" data-key="${answer.keys.publicKey}"></script>`);

    // The merchant enables the cart template. Its SMS and call steps have no provider here: refused.
    const asIs = await api("/v1/admin/campaigns/templates/abandoned_cart/enable", { body: {} });
    expect(asIs.status).toBe(400);
    expect((await asIs.json()).error.message).toContain("TWILIO_ACCOUNT_SID");
    // Email only, the first reminder at once (production has no dev clock), the coupon a day later.
    const enabled = await api("/v1/admin/campaigns/templates/abandoned_cart/enable", {
      body: {
        steps: [
          { delay: 0, channel: "email", template: "cart_reminder" },
          {
            delay: "1d",
            channel: "email",
            template: "cart_last_call",
            coupon: { promotionId: "exit-intent-10", expiresDays: 7 },
          },
        ],
      },
    });
    expect(enabled.status).toBe(201);

    // A shopper on the store's own origin signs in and leaves the speaker in the cart.
    const email = `shopper-${Date.now()}@example.com`;
    const context = await browser().newContext();
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(`${store}/`);
    await page.evaluate((e) => {
      const w = window as unknown as { nudge: (...a: unknown[]) => void };
      w.nudge("identify", { userId: "shopper-1", email: e, name: "Ada" });
    }, email);
    await page.click("#add");
    await flush(page);
    expect(errors).toEqual([]);

    // The cron sends the reminder through Resend, as the site.
    await expect
      .poll(async () => {
        await cron();
        return mails.filter((m) => m.body.to[0] === email).length;
      })
      .toBe(1);
    const mail = mails.find((m) => m.body.to[0] === email) as Mail;
    expect(mail.body.from).toBe("Plain shop <hello@plain.example>");
    expect(mail.body.subject).toBe("You left 1 item in your cart");
    expect(mail.headers["idempotency-key"]).toMatch(/^nudge-message\/\d+$/);
    expect(mail.body.headers["List-Unsubscribe-Post"]).toBe("List-Unsubscribe=One-Click");

    // Every link is on the Worker's public address, none on the shop's.
    const hrefs = [...mail.body.html.matchAll(/href="([^"]+)"/g)].map((m) => m[1] ?? "");
    const textLinks = mail.body.text.match(/https?:\/\/\S+/g) ?? [];
    const unsubscribe = mail.body.headers["List-Unsubscribe"]?.replace(/^<|>$/g, "") ?? "";
    expect(hrefs.length).toBeGreaterThanOrEqual(2);
    for (const link of [...hrefs, ...textLinks, unsubscribe])
      expect(link.startsWith(`${worker}/v1/links/`), link).toBe(true);

    // The mail's button, followed in Chromium, brings the cart back on the store's page.
    const restore = textLinks.find((l) => l.includes("/v1/links/click")) ?? "";
    const later = await browser().newContext();
    const back = await later.newPage();
    await back.goto(restore);
    expect(new URL(back.url()).origin).toBe(store);
    expect(await back.locator("#cart li").allTextContents(), back.url()).toEqual(["E7247 × 1"]);
    await later.close();

    // The store's server reports the order with the secret key: the coupon reminder is cancelled.
    const order = await api("/v1/batch", {
      body: {
        batch: [
          {
            type: "track",
            messageId: `order-${Date.now()}`,
            userId: "shopper-1",
            event: "Order Completed",
            properties: {
              order_id: "o-1",
              total: 79,
              currency: "GBP",
              products: [{ product_id: "E7247", price: 79, quantity: 1 }],
            },
          },
        ],
      },
    });
    expect(order.status).toBe(200);
    expect((await order.json()).accepted).toBe(1);
    const steps = (await (await api("/v1/admin/messages")).json()).messages as {
      step: number;
      status: string;
      reason: string;
    }[];
    expect(steps.map((m) => [m.step, m.status, m.reason]).sort()).toEqual([
      [1, "sent", null],
      [2, "cancelled", "ordered"],
    ]);
    await cron();
    expect(mails.filter((m) => m.body.to[0] === email)).toHaveLength(1);

    // One-click unsubscribe (RFC 8058), as a mail client sends it.
    const off = await fetch(unsubscribe, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "List-Unsubscribe=One-Click",
    });
    expect(off.status).toBe(200);
    const contact = (await (await api("/v1/admin/contacts?userId=shopper-1")).json()).contact;
    expect(contact).toMatchObject({ email, unsubscribed: true, ordersCount: 1 });
    await context.close();
  });

  it("should have no development surface: no /v1/dev, no mailbox, no demo keys", async () => {
    for (const [method, path] of [
      ["GET", "/v1/dev/clock"],
      ["POST", "/v1/dev/tick"],
      ["POST", "/v1/dev/reset"],
      ["POST", "/v1/noop"],
      ["GET", "/mailbox"],
      ["GET", "/mailbox.html"],
    ] as const)
      expect((await api(path, { method, key: "sk_demo", body: method === "POST" ? {} : undefined })).status, path).toBe(
        404,
      );
    expect((await api("/v1/admin/messages", { key: "sk_demo" })).status).toBe(401);
  });

  it("should create a site with `npm run site:create` against the operator API, whose keys work at once", async () => {
    const out = execFileSync(
      process.execPath,
      [
        "worker/scripts/site-create.ts",
        "--endpoint",
        worker,
        "--name",
        "Cli shop",
        "--url",
        "https://cli.example",
        "--origins",
        "https://cli.example",
        "--currency",
        "eur",
        "--json",
      ],
      { encoding: "utf8", env: { ...process.env, OPERATOR_TOKEN } },
    );
    const keys = JSON.parse(out.trim().split("\n").at(-1) ?? "{}");
    expect(keys.publicKey).toMatch(/^pk_/);
    expect(keys.secretKey).toMatch(/^sk_/);
    const send = (origin: string) =>
      fetch(`${worker}/v1/track`, {
        method: "POST",
        headers: { "content-type": "application/json", origin },
        body: JSON.stringify({ writeKey: keys.publicKey, messageId: "m1", anonymousId: "a1", event: "Viewed" }),
      });
    expect((await send("https://evil.example")).status).toBe(403);
    expect((await send("https://cli.example")).status).toBe(200);
    expect((await api("/v1/admin/contacts?anonymousId=a1", { key: keys.secretKey })).status).toBe(200);
  });
});
