/**
 * The network a request came from, as rate limits count it: an IPv4 address as it is, an IPv6
 * address as its /64. One IPv6 subscriber is handed a whole /64 (2^64 addresses), so a cap per
 * exact IPv6 address caps nothing. `fallback` where Cloudflare gave no address (a test, or a
 * request that did not come through the edge).
 */
export function clientNetwork(header: string | null | undefined, fallback = "local"): string {
  const ip = (header ?? "").trim();
  if (!ip) return fallback;
  if (!ip.includes(":")) return ip;
  const [head = "", tail] = ip.toLowerCase().split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  // "::" stands for as many zero groups as the address is short of eight.
  const groups =
    tail === undefined ? left : [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, "") || "0")
    .join(":")}::/64`;
}
