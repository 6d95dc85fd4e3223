import { useEffect, useState } from "preact/hooks";
import { api } from "../api";
import { MessagePreview } from "../preview";
import { Loaded, useData } from "../ui";

/**
 * Branding (issue 18): the logo, colour, footer and postal address every email carries, previewed
 * on a real template before saving (the preview takes the unsaved values).
 */

interface Branding {
  logoUrl: string;
  brandColor: string;
  postalAddress: string;
  footerText: string;
}
type Answer = { branding: Branding; warnings: string[] };

const SAMPLES = ["welcome", "cart_reminder", "winback"];

export function Settings() {
  const state = useData(() => api<Answer>("/v1/admin/branding"), []);
  const [b, setB] = useState<Branding | null>(null);
  const [warnings, setWarnings] = useState<string[]>([]);
  const [sample, setSample] = useState(SAMPLES[0] ?? "welcome");
  const [status, setStatus] = useState("");
  useEffect(() => {
    if (!state.data) return;
    setB(state.data.branding);
    setWarnings(state.data.warnings);
  }, [state.data]);
  const field = (key: keyof Branding) => ({
    value: b?.[key] ?? "",
    onInput: (e: Event) => b && setB({ ...b, [key]: (e.target as HTMLInputElement).value }),
  });
  const save = async (e: Event) => {
    e.preventDefault();
    setStatus("Saving…");
    try {
      const r = await api<Answer>("/v1/admin/branding", { method: "PUT", body: b });
      setB(r.branding);
      setWarnings(r.warnings);
      setStatus("Saved. Every email sent from now on carries it.");
    } catch (err) {
      setStatus(err instanceof Error ? `Not saved: ${err.message}` : "Not saved.");
    }
  };
  // The preview shows a colour only once it is a whole #rrggbb (the API would refuse a partial one).
  const draft = b ? { ...b, brandColor: /^#[0-9a-f]{6}$/i.test(b.brandColor) ? b.brandColor : "" } : undefined;
  const logoOk = !b?.logoUrl || /^https:\/\/\S+$/.test(b.logoUrl);
  return (
    <>
      <h1 tabIndex={-1}>Settings</h1>
      <Loaded state={state}>
        {() =>
          !b || !draft ? (
            <p class="loading">Loading…</p>
          ) : (
            <div class="editor">
              <form onSubmit={save}>
                <fieldset>
                  <legend>Email branding</legend>
                  {warnings.map((w) => (
                    <p key={w} class="warning">
                      {w}
                    </p>
                  ))}
                  <label for="logo">Logo address (https)</label>
                  <input
                    id="logo"
                    type="url"
                    placeholder="https://shop.example/logo.png"
                    maxLength={500}
                    aria-invalid={!logoOk}
                    aria-describedby="logo-hint"
                    {...field("logoUrl")}
                  />
                  <p id="logo-hint" class="note">
                    {logoOk
                      ? "Empty: the store's name in the brand colour."
                      : "Use an https address: mail clients block images over plain http."}
                  </p>
                  <label for="colour">Brand colour (buttons)</label>
                  <div class="row">
                    <input
                      id="colour"
                      pattern="#[0-9a-fA-F]{6}"
                      placeholder="#2457d6"
                      maxLength={7}
                      size={8}
                      {...field("brandColor")}
                    />
                    <input
                      type="color"
                      aria-label="Pick the brand colour"
                      value={draft.brandColor || "#2457d6"}
                      onInput={(e) => setB({ ...b, brandColor: (e.target as HTMLInputElement).value })}
                    />
                  </div>
                  <label for="address">Postal address (required in bulk email)</label>
                  <textarea id="address" rows={4} maxLength={300} {...field("postalAddress")} />
                  <label for="footer">Footer text</label>
                  <textarea
                    id="footer"
                    rows={2}
                    maxLength={500}
                    placeholder="You get this email because you shop at {store}."
                    {...field("footerText")}
                  />
                </fieldset>
                <button type="submit">Save branding</button>
                <p role="status" class="status">
                  {status}
                </p>
                <label for="sample">Preview with</label>
                <select id="sample" value={sample} onChange={(e) => setSample((e.target as HTMLSelectElement).value)}>
                  {SAMPLES.map((s) => (
                    <option key={s}>{s}</option>
                  ))}
                </select>
              </form>
              <MessagePreview
                channel="email"
                request={{ template: sample, locale: "en", branding: logoOk ? draft : { ...draft, logoUrl: "" } }}
              />
            </div>
          )
        }
      </Loaded>
    </>
  );
}
