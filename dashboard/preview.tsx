import { useEffect, useState } from "preact/hooks";
import { api } from "./api";

/**
 * The live preview of a message: the Worker renders it with the real templates, the site's branding
 * and sample products (POST /v1/admin/campaigns/preview). The email is shown in a sandboxed frame
 * that loads it from the Worker (GET …/preview/email) with its own policy: inline styles and https
 * images allowed, nothing able to run. A `srcdoc` frame would inherit this page's policy, which
 * refuses the email's inline styles.
 */

export interface PreviewRequest {
  template: string;
  locale: string;
  subject?: string;
  content?: { subject?: string; intro?: string; cta?: string };
  coupon?: boolean;
  branding?: Record<string, string>;
}

interface Preview {
  subject: string;
  sms: { text: string; characters: number; encoding: string; segments: number };
  call: { script: string };
  warnings: string[];
}

/** Drops empty fields, so a cleared input previews the template's own words. */
const tidy = (r: PreviewRequest): PreviewRequest => {
  const content = Object.fromEntries(Object.entries(r.content ?? {}).filter(([, v]) => v));
  return {
    ...r,
    subject: r.subject || undefined,
    content: Object.keys(content).length ? content : undefined,
  };
};

const PLACEHOLDERS = ["name", "store", "items", "product", "sender", "window"];
const NAMES = { subject: "Subject", intro: "Text", cta: "Button" };

/**
 * What the API would refuse in the merchant's words, said before asking it: a misspelt placeholder
 * is a typing state, not a failed request (the API checks again on save).
 */
function problem(r: PreviewRequest): string | null {
  const parts: [string, string | undefined][] = [
    ["Subject", r.subject],
    ...Object.entries(NAMES).map(([k, name]): [string, string | undefined] => [
      name,
      r.content?.[k as keyof typeof NAMES],
    ]),
  ];
  for (const [name, text] of parts)
    for (const [, p] of (text ?? "").matchAll(/\{([^}]*)\}/g))
      if (!PLACEHOLDERS.includes(p ?? ""))
        return `${name}: {${p}} is not a placeholder; use ${PLACEHOLDERS.map((x) => `{${x}}`).join(" ")}.`;
  return null;
}

export function MessagePreview({ request, channel }: { request: PreviewRequest; channel: string }) {
  const wrong = problem(request);
  const json = JSON.stringify(tidy(request));
  // Rendered after a short pause in typing, not on every key.
  const [shown, setShown] = useState(json);
  const [state, setState] = useState<{ data?: Preview; error?: string }>({});
  useEffect(() => {
    if (wrong) return;
    const timer = setTimeout(() => setShown(json), 300);
    return () => clearTimeout(timer);
  }, [json, wrong]);
  useEffect(() => {
    let live = true;
    api<Preview>("/v1/admin/campaigns/preview", { method: "POST", body: JSON.parse(shown) }).then(
      (data) => live && setState({ data }),
      (e: unknown) => live && setState({ error: e instanceof Error ? e.message : String(e) }),
    );
    return () => {
      live = false;
    };
  }, [shown]);
  const { data, error } = state;
  return (
    <section class="preview" aria-labelledby="preview-h">
      <h2 id="preview-h">Preview ({channel})</h2>
      {wrong || error ? (
        <p role="alert" class="error">
          Cannot preview: {wrong ?? error}
        </p>
      ) : !data ? (
        <p class="loading" role="status">
          Rendering…
        </p>
      ) : (
        <>
          {data.warnings.map((w) => (
            <p key={w} class="warning">
              {w} <a href="#/settings">Settings</a>
            </p>
          ))}
          {channel === "email" ? (
            <>
              <p>
                Subject: <strong data-testid="preview-subject">{data.subject}</strong>
              </p>
              <iframe
                title="Email preview"
                class="mail"
                sandbox=""
                src={`/v1/admin/campaigns/preview/email?q=${encodeURIComponent(shown)}`}
              />
            </>
          ) : channel === "sms" ? (
            <>
              <p class="bubble" data-testid="preview-sms">
                {data.sms.text}
              </p>
              <p class="note">
                {data.sms.characters} characters, {data.sms.encoding}: billed as {data.sms.segments} SMS
                {data.sms.segments === 1 ? "" : " parts"}.
              </p>
            </>
          ) : channel === "call" ? (
            <blockquote class="bubble" data-testid="preview-call">
              {data.call.script}
            </blockquote>
          ) : (
            <p class="note">A webhook step posts the journey's data as JSON to its URL; there is no text to preview.</p>
          )}
        </>
      )}
    </section>
  );
}
