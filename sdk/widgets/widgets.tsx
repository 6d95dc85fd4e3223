import type { ComponentChildren } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import type { Widget } from "../contract";
import type { Host } from "../triggers/types";
import { post, requestId } from "./api";
import { Dialog } from "./dialog";
import type { Key, T } from "./i18n";

/**
 * The widgets. Each one is a dialog (the cart reminder is a bar) that reports how it ended:
 * `finish("converted")` when the shopper did what it offers, `finish()` when they closed it.
 */

export interface Props {
  widget: Widget;
  host: Host;
  t: T;
  launcher?: Element;
  finish(converted: boolean): void;
}

/** Where the exit-intent code is put for the store's checkout to apply (see README "Onsite widgets"). */
export const COUPON_KEY = "nudge:coupon";
const E164 = /^\+[1-9]\d{6,14}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function Coupon({ widget, host, t, finish }: Props) {
  const [code, setCode] = useState<string | null>(null);
  const [error, setError] = useState("");
  const [copied, setCopied] = useState(false);
  useEffect(() => {
    post<{ code: string }>(host, "coupon", { requestId: requestId(), widget: widget.id }).then((a) => {
      if (!a.ok) return setError(t(a.code as Key) === a.code ? t("error") : t(a.code as Key));
      setCode(a.data.code);
      // Auto-apply: the store's checkout reads the key, or listens for the event.
      try {
        localStorage.setItem(COUPON_KEY, a.data.code);
      } catch {
        // The event below still carries it.
      }
      dispatchEvent(new CustomEvent(COUPON_KEY, { detail: { code: a.data.code } }));
    });
  }, []);
  const copy = (e: Event) => {
    // No clipboard API on plain http or when denied: select the code so the shopper can copy it.
    const output = (e.currentTarget as HTMLElement).previousElementSibling; // read now: reset after dispatch
    const select = () => output && getSelection()?.selectAllChildren(output);
    if (!navigator.clipboard) return select();
    navigator.clipboard.writeText(code ?? "").then(() => setCopied(true), select);
  };
  const close = () => finish(code !== null);
  return (
    <Dialog
      id="nudge-coupon"
      label={t("coupon_title", { offer: widget.offer ?? "" })}
      close={close}
      closeLabel={t("close")}
    >
      <p id="nudge-coupon-desc">{t("coupon_body")}</p>
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      {code ? (
        <div class="code">
          <output aria-label={t("coupon_code")}>{code}</output>
          <button type="button" onClick={copy}>
            {copied ? t("coupon_copied") : t("coupon_copy")}
          </button>
        </div>
      ) : error ? null : (
        <p role="status">{t("loading")}</p>
      )}
      <button type="button" class="primary" onClick={close}>
        {t("coupon_continue")}
      </button>
    </Dialog>
  );
}

interface Field {
  name: string;
  label: Key;
  type?: "email" | "tel" | "text" | "select" | "checkbox";
  autocomplete?: string;
  optional?: boolean;
  /** select: the values; each one's label is the text `${name}_${value}`. */
  options?: string[];
  check?: (value: string) => Key | null;
}

const emailField = (name: string, label: Key): Field => ({
  name,
  label,
  type: "email",
  autocomplete: name === "email" ? "email" : "off",
  check: (v) => (EMAIL.test(v) ? null : "invalid_email"),
});

const consentField: Field = { name: "consent", label: "required", type: "checkbox" };

/** A form widget: client-side checks first, then the server's verdict shown next to the field. */
function FormWidget(
  props: Props & {
    kind: "friend" | "callback" | "newsletter";
    fields: Field[];
    extra: () => Record<string, unknown>;
    /** Shown under the form (the friend widget's share links). */
    after?: ComponentChildren;
  },
) {
  const { kind, t, fields } = props;
  const id = `nudge-${kind}`;
  const rid = useMemo(requestId, []);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);
  const consentText = t(`${kind}_consent` as Key);

  const submit = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    const values: Record<string, unknown> = {};
    const found: Record<string, string> = {};
    for (const f of fields) {
      const v = String(data.get(f.name) ?? "").trim();
      if (f.type === "checkbox") {
        values[f.name] = v === "on";
        if (v !== "on") found[f.name] = t("consent_required");
      } else if (!v) {
        if (!f.optional) found[f.name] = t("required");
      } else {
        const problem = f.check?.(v);
        if (problem) found[f.name] = t(problem);
        values[f.name] = v;
      }
    }
    setErrors(found);
    const firstBad = fields.find((f) => found[f.name]);
    if (firstBad) return form.querySelector<HTMLElement>(`[name=${firstBad.name}]`)?.focus();
    setBusy(true);
    const answer = await post(props.host, kind, { requestId: rid, ...values, consentText, ...props.extra() });
    setBusy(false);
    if (answer.ok) return setDone(true);
    const localised = t(answer.code as Key);
    const message = localised !== answer.code ? localised : answer.message || t("error");
    setErrors({ [answer.field && fields.some((f) => f.name === answer.field) ? answer.field : "form"]: message });
  };

  return (
    <Dialog id={id} label={t(`${kind}_title` as Key)} close={() => props.finish(done)} closeLabel={t("close")}>
      <p id={`${id}-desc`}>{t(`${kind}_body` as Key)}</p>
      {done ? (
        // The form (and the focused button) is gone: focus the confirmation, so it is read out
        // and Escape still reaches the dialog.
        <p role="status" tabIndex={-1} ref={(el) => el?.focus()}>
          {t(`${kind}_done` as Key)}
        </p>
      ) : (
        <form onSubmit={submit} noValidate>
          {fields.map((f) => {
            const err = errors[f.name];
            const a11y = {
              id: `${id}-${f.name}`,
              name: f.name,
              "aria-invalid": err ? (true as const) : undefined,
              "aria-describedby": err ? `${id}-${f.name}-err` : undefined,
            };
            const message = err ? (
              <p class="field-error" id={`${id}-${f.name}-err`}>
                {err}
              </p>
            ) : null;
            if (f.type === "checkbox")
              return (
                <div key={f.name}>
                  <label class="check">
                    <input type="checkbox" {...a11y} />
                    <span>{consentText}</span>
                  </label>
                  {message}
                </div>
              );
            return (
              <div key={f.name}>
                <label for={a11y.id}>{t(f.label)}</label>
                {f.type === "select" ? (
                  <select {...a11y}>
                    {f.options?.map((o) => (
                      <option value={o} key={o}>
                        {t(`${f.name}_${o}` as Key)}
                      </option>
                    ))}
                  </select>
                ) : (
                  <input
                    type={(f.type ?? "text") as "text"}
                    autoComplete={f.autocomplete}
                    required={!f.optional}
                    {...a11y}
                  />
                )}
                {message}
              </div>
            );
          })}
          {errors.form ? (
            <p class="error" role="alert">
              {errors.form}
            </p>
          ) : null}
          <button type="submit" class="primary" disabled={busy}>
            {t(`${kind}_submit` as Key)}
          </button>
        </form>
      )}
      {props.after}
    </Dialog>
  );
}

/** The product to share: the launcher's `data-product-id` / `-name` / `-price`, else the page. */
function sharedProduct(launcher?: Element) {
  const d = (launcher as HTMLElement | undefined)?.dataset ?? {};
  const price = Number(d.productPrice); // decimal, as in Segment's e-commerce spec
  return {
    productId: d.productId || location.pathname,
    productName: d.productName,
    ...(Number.isFinite(price) && d.productPrice ? { price } : {}),
    url: location.href,
  };
}

/** Where each network's share button leads, for a link `u` and a message `m` (both URI-encoded). */
const NETWORKS: [name: string, href: (u: string, m: string) => string][] = [
  ["WhatsApp", (u, m) => `https://wa.me/?text=${m}%20${u}`],
  ["Telegram", (u, m) => `https://t.me/share/url?url=${u}&text=${m}`],
  ["Facebook", (u) => `https://www.facebook.com/sharer/sharer.php?u=${u}`],
  ["X", (u, m) => `https://x.com/intent/post?url=${u}&text=${m}`],
];

/**
 * Share links beside the email form: this page, carrying the shopper's referral code (`?ref=`)
 * when she is a customer (the Worker answers 403 otherwise, and the plain page is shared). Links,
 * not script: each network's own share page opens in a new tab, so nothing is sent on her behalf.
 */
function Share({ host, t }: Pick<Props, "host" | "t">) {
  const [link, setLink] = useState(location.href);
  const [referral, setReferral] = useState(false);
  const [copied, setCopied] = useState(false);
  useEffect(() => {
    post<{ code: string }>(host, "referral", { requestId: requestId() }).then((a) => {
      if (!a.ok || typeof a.data.code !== "string") return;
      const url = new URL(location.href);
      url.searchParams.set("ref", a.data.code);
      setLink(url.href);
      setReferral(true);
    });
  }, []);
  const u = encodeURIComponent(link);
  const m = encodeURIComponent(t("share_text"));
  const copy = (e: Event) => {
    const input = (e.currentTarget as HTMLElement).previousElementSibling as HTMLInputElement | null;
    // No clipboard API on plain http or when denied: select the link so the shopper can copy it.
    const select = () => input?.select();
    if (!navigator.clipboard) return select();
    navigator.clipboard.writeText(link).then(() => setCopied(true), select);
  };
  return (
    <section aria-labelledby="nudge-share-title">
      <h3 id="nudge-share-title">{t("share_title")}</h3>
      {referral ? <p>{t("share_reward")}</p> : null}
      <div class="share">
        {NETWORKS.map(([name, href]) => (
          <a class="link" key={name} href={href(u, m)} target="_blank" rel="noopener noreferrer">
            {name}
          </a>
        ))}
      </div>
      <label for="nudge-share-link">{t("share_link")}</label>
      <div class="code">
        <input id="nudge-share-link" readOnly value={link} />
        <button type="button" onClick={copy}>
          {copied ? t("coupon_copied") : t("share_copy")}
        </button>
      </div>
    </section>
  );
}

export const Friend = (p: Props) => (
  <FormWidget
    {...p}
    kind="friend"
    fields={[
      emailField("friendEmail", "friend_email"),
      { name: "senderName", label: "friend_name", autocomplete: "name" },
      consentField,
    ]}
    extra={() => sharedProduct(p.launcher)}
    after={<Share host={p.host} t={p.t} />}
  />
);

export const Callback = (p: Props) => (
  <FormWidget
    {...p}
    kind="callback"
    fields={[
      { name: "name", label: "callback_name", autocomplete: "name", optional: true },
      {
        name: "phone",
        label: "callback_phone",
        type: "tel",
        autocomplete: "tel",
        check: (v) => (E164.test(v.replace(/[\s().-]/g, "")) ? null : "invalid_phone"),
      },
      {
        name: "window",
        label: "callback_window",
        type: "select",
        options: ["asap", "morning", "afternoon", "evening"],
      },
      consentField,
    ]}
    extra={() => ({ url: location.href })}
  />
);

export const Newsletter = (p: Props) => (
  <FormWidget
    {...p}
    kind="newsletter"
    fields={[emailField("email", "newsletter_email"), consentField]}
    extra={() => ({})}
  />
);

/** Not modal: a bar at the bottom for a returning visitor with items in their cart. */
function CartReminder({ widget, t, finish }: Props) {
  useEffect(() => {
    const esc = (e: KeyboardEvent) => e.key === "Escape" && finish(false);
    addEventListener("keydown", esc);
    return () => removeEventListener("keydown", esc);
  }, []);
  return (
    <section class="bar" aria-label={t("cart_title")}>
      <p>{t("cart_title")}</p>
      <a class="link" href={widget.link ?? "/cart"} onClick={() => finish(true)}>
        {t("cart_link")}
      </a>
      <button type="button" class="close" aria-label={t("close")} onClick={() => finish(false)}>
        <span aria-hidden="true">×</span>
      </button>
    </section>
  );
}

export const WIDGETS = {
  coupon: Coupon,
  friend: Friend,
  callback: Callback,
  newsletter: Newsletter,
  cart_reminder: CartReminder,
};
