import { Hono } from "hono";
import type { Context } from "hono";
import { html } from "hono/html";
import type { Env } from "../env";
import { now } from "../lib/clock";
import { onSite, siteHosts } from "../lib/hosts";
import { readBytes } from "../lib/http";
import { linkUrl } from "../lib/links";
import { readSiteLink } from "./auth";
import { cartLines } from "../model/carts";
import { cancelPending, recordClick, recordOpen } from "../model/messages";
import { siteById } from "../model/sites";

/** Landing points of the signed links in messages. */
export const links = new Hono<{ Bindings: Env }>();

const page = (title: string, body: unknown) =>
  html`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${title}</title><style>body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#1f2933}
button{font:inherit;padding:.6rem 1rem;border-radius:6px;border:0;background:#2457d6;color:#fff;cursor:pointer}</style></head>
<body><main><h1>${title}</h1>${body}</main></body></html>`;

const invalid = (c: Context) =>
  c.html(page("This link has expired", html`<p>The link is invalid or has expired.</p>`), 400);

/** Cart restore: sends the shopper to their cart with its lines, which the store refills. */
links.get("/restore", async (c) => {
  const claims = await readSiteLink(c, c.req.query("t") ?? "", "restore", await now(c.env));
  const site = claims && (await siteById(c.env.DB, claims.s));
  if (!claims || !site) return invalid(c);
  const lines = await cartLines(c.env.DB, site.id, claims.c);
  const cart = btoa(JSON.stringify(lines.map((l) => ({ product_id: l.productId, quantity: l.quantity }))))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
  return c.redirect(`${site.url}/cart?restore=${cart}`, 302);
});

async function unsubscribe(env: Env, siteId: string, contactId: string) {
  await env.DB.batch([
    env.DB.prepare(`UPDATE contacts SET unsubscribed = 1 WHERE site_id = ? AND id = ?`).bind(siteId, contactId),
    cancelPending(env.DB, siteId, contactId, "unsubscribed"),
  ]);
}

/** A GET only asks: mail scanners follow links, and must not unsubscribe anyone. */
links.get("/unsubscribe", async (c) => {
  const token = c.req.query("t") ?? "";
  if (!(await readSiteLink(c, token, "unsubscribe", await now(c.env)))) return invalid(c);
  return c.html(
    page(
      "Unsubscribe",
      html`<p>Stop all marketing messages from this store?</p>
<form method="post"><input type="hidden" name="t" value="${token}"><button type="submit">Unsubscribe</button></form>`,
    ),
  );
});

/**
 * A form's fields (URL-encoded or multipart) as strings, read from at most 8 KB of body: these
 * routes need no key, so they must not read or parse whatever size a stranger sends.
 */
export async function formFields(req: Request): Promise<(name: string) => string> {
  const bytes = await readBytes(req, 8 * 1024);
  const type = req.headers.get("content-type") ?? "";
  try {
    const form = type.startsWith("multipart/form-data")
      ? await new Response(bytes, { headers: { "content-type": type } }).formData()
      : new URLSearchParams(new TextDecoder().decode(bytes));
    return (name) => {
      const v = form.get(name);
      return typeof v === "string" ? v : "";
    };
  } catch {
    return () => "";
  }
}

/** The form's POST and RFC 8058 one-click (`List-Unsubscribe=One-Click`) both land here. */
links.post("/unsubscribe", async (c) => {
  const token = c.req.query("t") ?? (await formFields(c.req.raw))("t");
  const claims = await readSiteLink(c, token, "unsubscribe", await now(c.env));
  if (!claims) return invalid(c);
  await unsubscribe(c.env, claims.s, claims.c);
  return c.html(page("You are unsubscribed", html`<p>You will not receive marketing messages from this store.</p>`));
});

/** Click tracking: records the first click on the message, then goes where the link said. */
links.get("/click", async (c) => {
  const at = await now(c.env);
  const claims = await readSiteLink(c, c.req.query("t") ?? "", "click", at);
  if (!claims || claims.m === undefined) return invalid(c);
  const site = await siteById(c.env.DB, claims.s);
  if (!site) return invalid(c);
  // Never off the store's hosts unless the merchant wrote the link: a token signed before that rule
  // (a poisoned catalogue url) lands on the store instead of the page it names.
  const to =
    claims.r === "restore"
      ? await linkUrl(c.env, new URL(c.req.url).origin, "restore", claims.s, claims.c, at)
      : claims.x === 1 && claims.u && /^https?:\/\//.test(claims.u)
        ? claims.u
        : claims.u && onSite(claims.u, siteHosts(site))
          ? claims.u
          : site.url;
  await recordClick(c.env.DB, { id: claims.m, siteId: claims.s, contactId: claims.c, at }).run();
  return c.redirect(to, 302);
});

// The smallest transparent GIF.
const PIXEL = Uint8Array.from(atob("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"), (ch) =>
  ch.charCodeAt(0),
);

/** Open pixel: records the first open. Always answers with the image, so mail clients show nothing broken. */
links.get("/open", async (c) => {
  const at = await now(c.env);
  const claims = await readSiteLink(c, c.req.query("t") ?? "", "open", at);
  if (claims?.m !== undefined)
    await recordOpen(c.env.DB, { id: claims.m, siteId: claims.s, contactId: claims.c, at }).run();
  return c.body(PIXEL, 200, { "content-type": "image/gif", "cache-control": "no-store, private" });
});
