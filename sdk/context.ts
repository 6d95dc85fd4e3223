import type { Properties } from "./types";

/** The page part of every event's context: recomputed on each page view (SPA navigations too). */
export function pageContext(): Properties {
  const { href, pathname, search } = location;
  const params = new URLSearchParams(search);
  const campaign: Record<string, string> = {};
  for (const k of ["source", "medium", "campaign", "term", "content"]) {
    const v = params.get(`utm_${k}`);
    if (v) campaign[k === "campaign" ? "name" : k] = v.slice(0, 200);
  }
  return {
    page: { path: pathname, referrer: document.referrer, search, title: document.title, url: href },
    ...(Object.keys(campaign).length ? { campaign } : {}),
  };
}

/** The device part: computed once per load (Intl calls are not free). */
export function deviceContext(version: string): Properties {
  let timezone: string | undefined;
  try {
    timezone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch {
    // very old engines
  }
  return {
    library: { name: "nudge", version },
    locale: navigator.language,
    timezone,
    userAgent: navigator.userAgent,
    screen: { width: screen.width, height: screen.height, density: devicePixelRatio },
  };
}
