import { useState } from "preact/hooks";
import { api, type SiteInfo } from "../api";

export function SignIn({ onSignedIn }: { onSignedIn: (site: SiteInfo) => void }) {
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const key = new FormData(e.target as HTMLFormElement).get("key");
    setBusy(true);
    setError("");
    try {
      const r = await api<{ site: SiteInfo }>("/v1/admin/session", { method: "POST", body: { key } });
      location.hash = "#/";
      onSignedIn(r.site);
    } catch (err) {
      setError(err instanceof Error ? err.message : "Sign-in failed.");
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="sign-in">
      <h1 tabIndex={-1}>Sign in to Nudge</h1>
      <p>
        Paste your site's secret key. It is exchanged for a session that lasts 12 hours; the key itself is not kept in
        this browser.
      </p>
      <form onSubmit={submit}>
        <label for="key">Secret key</label>
        <input
          id="key"
          name="key"
          type="password"
          autoComplete="off"
          required
          maxLength={200}
          aria-invalid={error ? "true" : undefined}
          aria-describedby={error ? "key-error" : undefined}
        />
        {error ? (
          <p id="key-error" class="error" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
