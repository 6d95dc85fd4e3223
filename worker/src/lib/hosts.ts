/**
 * Where Nudge lets a link or a request go. Two questions: is a URL on the store's own hosts (what
 * a browser may claim for a product, where a click link may lead), and may Nudge POST to a URL a
 * merchant gave (a webhook must not reach the Worker's own network, loopback or a cloud metadata
 * service).
 */

/** The store's hostnames: its URL's and those of its allowed origins (ports ignored). */
export function siteHosts(site: { url: string; allowedOrigins: string[] }): Set<string> {
  const hosts = new Set<string>();
  for (const u of [site.url, ...site.allowedOrigins]) {
    try {
      hosts.add(new URL(u).hostname.toLowerCase());
    } catch {
      // a malformed origin names no host
    }
  }
  return hosts;
}

/** `url` if it is http(s) on one of the store's hosts, else null. */
export function onSite(url: string | null | undefined, hosts: Set<string>): string | null {
  if (!url) return null;
  try {
    const u = new URL(url);
    return /^https?:$/.test(u.protocol) && hosts.has(u.hostname.toLowerCase()) ? u.href : null;
  } catch {
    return null;
  }
}

/** IPv4 literal → its four numbers (the URL parser already turned 2130706433 or 0x7f.1 into dotted form). */
const ipv4 = (host: string): number[] | null => {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  return m ? m.slice(1).map(Number) : null;
};

function privateV4([a = 0, b = 0]: number[]): boolean {
  return (
    a === 0 || // "this network"
    a === 10 ||
    a === 127 || // loopback
    (a === 100 && b >= 64 && b <= 127) || // carrier-grade NAT
    (a === 169 && b === 254) || // link-local, incl. 169.254.169.254 (cloud metadata)
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 198 && (b === 18 || b === 19)) || // benchmarking
    a >= 224 // multicast, reserved, broadcast
  );
}

function privateV6(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "::" || h === "::1") return true;
  // IPv4-mapped (::ffff:a.b.c.d, which the parser writes as ::ffff:xxxx:xxxx) and NAT64 carry an IPv4 address.
  const mapped = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(h);
  if (mapped) {
    const hi = Number.parseInt(mapped[1] ?? "0", 16);
    const lo = Number.parseInt(mapped[2] ?? "0", 16);
    return privateV4([hi >> 8, hi & 255, lo >> 8, lo & 255]);
  }
  return /^f[cd]/.test(h) || /^fe[89ab]/.test(h) || /^ff/.test(h); // unique local, link-local, multicast
}

const loopback = (host: string, v4: number[] | null) =>
  host === "localhost" || host.endsWith(".localhost") || v4?.[0] === 127 || host === "[::1]";

/**
 * Why Nudge must not POST to `raw`, or null when it may. Refused: anything but https; private,
 * link-local (169.254.169.254 is the cloud metadata service), carrier-grade NAT and reserved
 * addresses written as literals (IPv4 in any form the URL parser understands, IPv6, IPv4-mapped
 * IPv6), single-label names, `.local`, `.internal`, `.home.arpa`; and loopback (`localhost`,
 * 127/8, ::1). In development http and loopback are allowed: the tests' and the demo's receivers
 * listen on 127.0.0.1.
 * Only the name is checked: a public name that resolves to a private address (DNS rebinding) cannot
 * be caught from a Worker, which has no resolver to ask before its fetch; Cloudflare does not route
 * a deployed Worker's subrequests into private networks in any case.
 */
export function webhookUrlProblem(raw: string, dev: boolean): string | null {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return "is not a URL";
  }
  if (u.protocol !== "https:" && !(dev && u.protocol === "http:")) return "must be an https URL";
  if (u.username || u.password) return "must not carry credentials";
  const host = u.hostname.toLowerCase().replace(/\.$/, "");
  const v4 = ipv4(host);
  if (loopback(host, v4)) return dev ? null : "must not point at a loopback address";
  if (
    /\.(local|internal|home\.arpa)$/.test(host) ||
    (!host.includes(".") && !host.startsWith("[")) ||
    (v4 && privateV4(v4)) ||
    (host.startsWith("[") && privateV6(host))
  )
    return "must not point at a private, link-local or metadata address";
  return null;
}
