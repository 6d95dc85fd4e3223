import type { Properties } from "./types";

/** The page part of every event's context: recomputed on each page view (SPA navigations too). */
export function pageContext(): Properties {
  const { href, pathname, search } = location;
  const params = new URLSearchParams(search);
  // Left undefined without UTM parameters: JSON has no `campaign` then, not an empty one.
  let campaign: Record<string, string> | undefined;
  for (const k of ["source", "medium", "campaign", "term", "content"]) {
    const v = params.get(`utm_${k}`);
    if (v) {
      campaign ||= {};
      campaign[k === "campaign" ? "name" : k] = v.slice(0, 200);
    }
  }
  return { page: { path: pathname, referrer: document.referrer, search, title: document.title, url: href }, campaign };
}

/** The device part: computed once per load. The time zone comes later (see `timeZone`). */
export function deviceContext(version: string): Properties {
  return {
    library: { name: "nudge", version },
    locale: navigator.language,
    userAgent: navigator.userAgent,
    screen: { width: screen.width, height: screen.height, density: devicePixelRatio },
  };
}

/**
 * The IANA time zone (for quiet hours). Not on the init path, and Temporal first: the first Intl
 * call of a page loads ICU data, 40–80 ms in Chromium (a long task on its own); Temporal's answer
 * takes 0.1 ms.
 */
export function timeZone(): string | undefined {
  try {
    const T = (globalThis as { Temporal?: { Now: { timeZoneId(): string } } }).Temporal;
    return T ? T.Now.timeZoneId() : Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch {
    return undefined; // very old engines
  }
}
