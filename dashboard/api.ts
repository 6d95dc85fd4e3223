/**
 * The dashboard's one door to the Worker: same-origin fetches that carry the session cookie.
 * Browsers add `Origin` to every POST, PUT, PATCH and DELETE, which the Worker checks (CSRF).
 */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Called when the session has ended, so the app can show the sign-in page again. */
let onSignedOut: () => void = () => {};
export const whenSignedOut = (f: () => void) => {
  onSignedOut = f;
};

/**
 * The signed-in session's requests. Signing out cancels those in flight and makes new ones fail at
 * once, until the next sign-in: a request still running, or one a page's timer starts in the
 * moment before it unmounts, would come back 401 from the revoked session and be logged as an error.
 * Requests to `/session` itself (who is signed in, sign in, sign out) are never held back.
 */
let session = new AbortController();
export function setSignedIn(signedIn: boolean): void {
  if (!signedIn) session.abort();
  else if (session.signal.aborted) session = new AbortController();
}

export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const res = await fetch(path, {
    signal: path.endsWith("/session") ? undefined : session.signal,
    method: init.method ?? "GET",
    credentials: "same-origin",
    headers: init.body === undefined ? {} : { "content-type": "application/json" },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const data = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
  if (res.status === 401 && !path.endsWith("/session")) onSignedOut();
  if (!res.ok) throw new ApiError(res.status, data.error?.message ?? `The server answered ${res.status}.`);
  return data as T;
}

export interface SiteInfo {
  id: string;
  name: string;
  currency: string;
  timeZone: string;
}
