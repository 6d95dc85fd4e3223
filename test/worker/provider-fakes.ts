import { createHmac } from "node:crypto";
import { createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TestProject } from "vitest/node";

/**
 * Stand-ins for the providers we cannot reach from a test: Resend, Postmark, Twilio (SMS and
 * calls) and a webhook receiver, on a loopback port. Each checks the request shape its provider
 * documents — auth, content type, required fields, idempotency key — and answers 401/422 as the
 * provider would when something is missing, so a wrong adapter fails its test. A recipient
 * containing "fail500" gets a 500 (a provider outage), one containing "fail429" a 429 with
 * `Retry-After: 600` (throttled). Every request is recorded for assertions:
 * `GET /__requests` lists them.
 */

export interface Recorded {
  provider: string;
  path: string;
  headers: Record<string, string>;
  body: unknown;
  status: number;
}

declare module "vitest" {
  export interface ProvidedContext {
    providers: string;
  }
}

const read = (req: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let text = "";
    req.on("data", (c: Buffer) => {
      text += c.toString("utf8");
    });
    req.on("end", () => resolve(text));
  });

type Check = (
  headers: Record<string, string>,
  body: Record<string, unknown>,
  raw: string,
  path: string,
) => string | null;

/** The signing secret the channels tests give webhook messages directly. */
export const WEBHOOK_SECRET = "whsec-test";
/** Sites' own signing secrets, registered per receiving path by a test (`POST /__secrets`). */
const secrets = new Map<string, string>();

const json = (h: Record<string, string>) =>
  h["content-type"]?.startsWith("application/json") ? null : "content-type must be JSON";

const checks: Record<string, { match: RegExp; check: Check; to: (b: Record<string, unknown>) => string }> = {
  resend: {
    match: /^\/resend\/emails$/,
    to: (b) => String((b.to as string[] | undefined)?.[0] ?? ""),
    check: (h, b) =>
      !h.authorization?.startsWith("Bearer re_")
        ? "missing API key"
        : (json(h) ??
          (!h["idempotency-key"] ? "missing Idempotency-Key" : null) ??
          (typeof b.from !== "string" || !Array.isArray(b.to) || typeof b.subject !== "string"
            ? "from, to[], subject required"
            : null) ??
          (typeof b.html !== "string" && typeof b.text !== "string" ? "html or text required" : null)),
  },
  postmark: {
    match: /^\/postmark\/email$/,
    to: (b) => String(b.To ?? ""),
    check: (h, b) =>
      !h["x-postmark-server-token"]
        ? "missing X-Postmark-Server-Token"
        : h.accept !== "application/json"
          ? "Accept must be application/json"
          : (json(h) ??
            (typeof b.From !== "string" || typeof b.To !== "string" || typeof b.Subject !== "string"
              ? "From, To, Subject required"
              : null) ??
            (typeof b.HtmlBody !== "string" && typeof b.TextBody !== "string"
              ? "HtmlBody or TextBody required"
              : null) ??
            (!Array.isArray(b.Headers) ? "Headers must be a list of { Name, Value }" : null)),
  },
  twilio: {
    match: /^\/twilio\/2010-04-01\/Accounts\/(AC\w+)\/(Messages|Calls)\.json$/,
    to: (b) => String(b.To ?? ""),
    check: (h, b) => {
      const auth = h.authorization?.startsWith("Basic ") ? atob(h.authorization.slice(6)) : "";
      if (!/^AC\w+:.+/.test(auth)) return "HTTP Basic with AccountSid:AuthToken required";
      if (h["content-type"] !== "application/x-www-form-urlencoded") return "form encoding required";
      if (!/^\+[1-9]\d{6,14}$/.test(String(b.To)) || !/^\+[1-9]\d{6,14}$/.test(String(b.From)))
        return "To and From must be E.164";
      if (!b.Body && !b.Twiml && !b.Url) return "Body (SMS) or Twiml/Url (call) required";
      if (b.Twiml && !/^<\?xml[^>]*\?><Response>.*<\/Response>$/s.test(String(b.Twiml)))
        return "Twiml must be a <Response> document";
      return null;
    },
  },
  webhook: {
    match: /^\/webhook\/.*/,
    to: (b) => String(b.campaign ?? ""),
    check: (h, _b, raw, path) => {
      // Unix seconds (10 digits until 2286), as Stripe's: a milliseconds timestamp is refused.
      const [, t, v1] = /^t=(\d{10}),v1=([0-9a-f]{64})$/.exec(h["x-nudge-signature"] ?? "") ?? [];
      // What a receiver does: recompute the HMAC over "t.body" with the shared secret.
      const secret = secrets.get(path) ?? WEBHOOK_SECRET;
      const expected = createHmac("sha256", secret).update(`${t}.${raw}`).digest("hex");
      return (
        json(h) ??
        (!t || v1 !== expected ? "bad signature" : null) ??
        (!h["idempotency-key"] ? "missing Idempotency-Key" : null)
      );
    },
  },
};

export default function setup(project: TestProject) {
  const recorded: Recorded[] = [];
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? "";
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, {
        "content-type": "application/json",
        ...(status === 429 ? { "retry-after": "600" } : {}),
      });
      res.end(JSON.stringify(body));
    };
    if (req.method === "GET" && path === "/__requests") return reply(200, recorded);
    const text = await read(req);
    if (req.method === "POST" && path === "/__secrets") {
      const { path: at, secret } = JSON.parse(text) as { path: string; secret: string };
      secrets.set(at, secret);
      return reply(200, {});
    }
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
    const entry = Object.entries(checks).find(([, c]) => c.match.test(path));
    if (!entry || req.method !== "POST") return reply(404, { message: "not found" });
    const [provider, c] = entry;
    let body: Record<string, unknown> = {};
    try {
      body = headers["content-type"]?.includes("json")
        ? JSON.parse(text)
        : Object.fromEntries(new URLSearchParams(text));
    } catch {
      return reply(400, { message: "invalid body" });
    }
    const problem = c.check(headers, body, text, path);
    const status = problem
      ? problem.startsWith("missing API") || problem.includes("Basic") || problem.includes("Token")
        ? 401
        : 422
      : c.to(body).includes("fail500")
        ? 500
        : c.to(body).includes("fail429")
          ? 429
          : 200;
    recorded.push({ provider, path, headers, body: provider === "webhook" ? text : body, status });
    reply(
      status,
      problem
        ? { message: problem }
        : status === 500
          ? { message: "internal error" }
          : status === 429
            ? { message: "rate limited" }
            : { id: `fake-${recorded.length}`, sid: `SM${recorded.length}` },
    );
  });
  return new Promise<() => Promise<void>>((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      project.provide("providers", `http://127.0.0.1:${port}`);
      resolve(() => new Promise<void>((done) => server.close(() => done())));
    });
  });
}
