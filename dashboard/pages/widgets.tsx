import { useEffect, useState } from "preact/hooks";
import type { Key } from "../../sdk/widgets/i18n";
import { textKeys, translator } from "../../sdk/widgets/i18n";
import { type Locale, LOCALES, type OnsiteConfig, TRIGGERS, type TriggerKind, type Widget } from "../../sdk/contract";
import { api } from "../api";
import { Loaded, useData } from "../ui";

/**
 * The onsite widgets editor: trigger, texts per locale and theme, with a preview that uses the
 * widgets' own wording (sdk/widgets/i18n, the merchant's overrides on top) and the theme's accent.
 * The preview is drawn by the dashboard, not the widget chunk: the chunk injects a <style> element,
 * which this page's Content-Security-Policy (no inline styles) rightly refuses.
 */

/** Every text a widget shows, by its prefix in sdk/widgets/i18n (the callback's time windows too). */
const keysOf = (w: Widget): Key[] => {
  const prefixes =
    w.type === "cart_reminder" ? ["cart_"] : w.type === "callback" ? ["callback_", "window_"] : [`${w.type}_`];
  return textKeys().filter((k) => prefixes.some((p) => k.startsWith(p)));
};
/** How the preview draws a text: heading, paragraph, a field's label, a tick box, the button. */
const roleOf = (key: Key) =>
  /_title$/.test(key)
    ? "title"
    : /_(body|done)$/.test(key)
      ? "text"
      : /_consent$/.test(key)
        ? "consent"
        : /_(submit|continue|link)$/.test(key)
          ? "button"
          : /^window_|_(copy|copied)$/.test(key)
            ? "skip"
            : "field";

/** Theme properties the editor offers (sdk/widgets/styles.ts reads these, with these defaults). */
const THEME: [string, string, string][] = [
  ["--nudge-accent", "Accent colour", "#1d4ed8"],
  ["--nudge-bg", "Background", "#ffffff"],
  ["--nudge-text", "Text colour", "#1b1f24"],
];

const VALUE_LABEL: Partial<Record<TriggerKind, string>> = {
  exit_intent: "Pixels from the top edge",
  time: "Seconds on the page",
  scroll: "Percent scrolled",
  inactivity: "Seconds without activity",
};

function Preview({ config, widget, locale }: { config: OnsiteConfig; widget: Widget; locale: Locale }) {
  const t = translator(config, locale);
  const vars = { offer: widget.offer ?? "" };
  const theme = config.theme ?? {};
  const style = {
    "--accent": theme["--nudge-accent"] ?? "#1d4ed8",
    "--bg": theme["--nudge-bg"] ?? "#fff",
    "--fg": theme["--nudge-text"] ?? "#1b1f24",
    "--radius": theme["--nudge-radius"] ?? "12px",
  };
  const keys = keysOf(widget).filter((k) => !/_done$/.test(k));
  const done = keysOf(widget).find((k) => /_done$/.test(k));
  return (
    <figure class="preview">
      <div class="preview-box" style={style} lang={locale}>
        {widget.type === "cart_reminder" ? (
          <p class="preview-bar">
            {t("cart_title")} <span class="preview-button">{t("cart_link")}</span>
          </p>
        ) : (
          keys.map((k) => {
            const text = t(k, vars);
            switch (roleOf(k)) {
              case "title":
                return (
                  <p key={k} class="preview-title">
                    {text}
                  </p>
                );
              case "text":
                return <p key={k}>{text}</p>;
              case "field":
                return (
                  <p key={k} class="preview-field">
                    {text}
                    <span class="preview-input" />
                  </p>
                );
              case "consent":
                return (
                  <p key={k} class="preview-consent">
                    ☐ {text}
                  </p>
                );
              case "button":
                return (
                  <p key={k}>
                    <span class="preview-button">{text}</span>
                  </p>
                );
              default:
                return null;
            }
          })
        )}
      </div>
      <figcaption>
        Preview of “{widget.id}” ({locale}){done ? `; afterwards: “${t(done)}”` : ""}
      </figcaption>
    </figure>
  );
}

export function Widgets() {
  const state = useData(() => api<{ config: OnsiteConfig }>("/v1/admin/onsite"), []);
  const [config, setConfig] = useState<OnsiteConfig | null>(null);
  const [selected, setSelected] = useState(0);
  const [locale, setLocale] = useState<Locale>("en");
  const [status, setStatus] = useState("");
  useEffect(() => {
    if (state.data) setConfig(state.data.config);
  }, [state.data]);

  const widget = config?.widgets[selected];
  const update = (w: Partial<Widget>) =>
    config && setConfig({ ...config, widgets: config.widgets.map((x, i) => (i === selected ? { ...x, ...w } : x)) });
  const setText = (key: Key, value: string) => {
    if (!config) return;
    const own = { ...(config.text?.[locale] ?? {}) };
    if (value) own[key] = value;
    else delete own[key];
    setConfig({ ...config, text: { ...config.text, [locale]: own } });
  };
  const save = async (e: Event) => {
    e.preventDefault();
    if (!config) return;
    setStatus("Saving…");
    try {
      const r = await api<{ config: OnsiteConfig }>("/v1/admin/onsite", { method: "PUT", body: { config } });
      setConfig(r.config);
      setStatus("Saved. Stores see the change within a minute.");
    } catch (err) {
      setStatus(err instanceof Error ? `Not saved: ${err.message}` : "Not saved.");
    }
  };
  return (
    <>
      <h1 tabIndex={-1}>Onsite widgets</h1>
      <Loaded state={state}>
        {() =>
          !config || config.widgets.length === 0 || !widget ? (
            <p class="empty">No widgets configured yet.</p>
          ) : (
            <div class="editor">
              <form onSubmit={save}>
                <label for="widget">Widget</label>
                <select
                  id="widget"
                  value={String(selected)}
                  onChange={(e) => setSelected(Number((e.target as HTMLSelectElement).value))}
                >
                  {config.widgets.map((w, i) => (
                    <option key={w.id} value={String(i)}>
                      {w.id} ({w.type.replace("_", " ")})
                    </option>
                  ))}
                </select>
                <fieldset>
                  <legend>Trigger</legend>
                  <label for="trigger">Shows on</label>
                  <select
                    id="trigger"
                    value={widget.trigger.on}
                    onChange={(e) =>
                      update({
                        trigger: { ...widget.trigger, on: (e.target as HTMLSelectElement).value as TriggerKind },
                      })
                    }
                  >
                    {TRIGGERS.map((t) => (
                      <option key={t} value={t}>
                        {t.replace("_", " ")}
                      </option>
                    ))}
                  </select>
                  {VALUE_LABEL[widget.trigger.on] ? (
                    <>
                      <label for="trigger-value">{VALUE_LABEL[widget.trigger.on]}</label>
                      <input
                        id="trigger-value"
                        type="number"
                        min={0}
                        max={100000}
                        value={widget.trigger.value ?? ""}
                        onInput={(e) => {
                          const v = (e.target as HTMLInputElement).value;
                          update({ trigger: { ...widget.trigger, value: v === "" ? undefined : Number(v) } });
                        }}
                      />
                    </>
                  ) : null}
                  {widget.trigger.on === "click" ? (
                    <>
                      <label for="trigger-selector">Launcher (CSS selector)</label>
                      <input
                        id="trigger-selector"
                        value={widget.trigger.selector ?? ""}
                        maxLength={200}
                        onInput={(e) =>
                          update({ trigger: { ...widget.trigger, selector: (e.target as HTMLInputElement).value } })
                        }
                      />
                    </>
                  ) : null}
                  {widget.type === "coupon" ? (
                    <>
                      <label for="offer">Offer shown</label>
                      <input
                        id="offer"
                        value={widget.offer ?? ""}
                        maxLength={20}
                        onInput={(e) => update({ offer: (e.target as HTMLInputElement).value })}
                      />
                    </>
                  ) : null}
                </fieldset>
                <fieldset>
                  <legend>Texts</legend>
                  <label for="locale">Language</label>
                  <select
                    id="locale"
                    value={locale}
                    onChange={(e) => setLocale((e.target as HTMLSelectElement).value as Locale)}
                  >
                    {LOCALES.map((l) => {
                      const own = Object.keys(config.text?.[l] ?? {}).length;
                      return (
                        <option key={l} value={l}>
                          {l}
                          {own ? ` (${own} own text${own === 1 ? "" : "s"})` : ""}
                        </option>
                      );
                    })}
                  </select>
                  {keysOf(widget).map((key) => (
                    <div key={`${locale}-${key}`}>
                      <label for={`text-${key}`}>{key.replace(/_/g, " ")}</label>
                      <input
                        id={`text-${key}`}
                        value={config.text?.[locale]?.[key] ?? ""}
                        placeholder={translator({ widgets: [] }, locale)(key)}
                        maxLength={300}
                        onInput={(e) => setText(key, (e.target as HTMLInputElement).value)}
                      />
                    </div>
                  ))}
                </fieldset>
                <fieldset>
                  <legend>Theme</legend>
                  {THEME.map(([prop, name, fallback]) => (
                    <div key={prop}>
                      <label for={`theme${prop}`}>{name}</label>
                      <input
                        id={`theme${prop}`}
                        type="color"
                        value={config.theme?.[prop] ?? fallback}
                        onInput={(e) =>
                          setConfig({
                            ...config,
                            theme: { ...config.theme, [prop]: (e.target as HTMLInputElement).value },
                          })
                        }
                      />
                    </div>
                  ))}
                  <label for="radius">Corner radius (px)</label>
                  <input
                    id="radius"
                    type="number"
                    min={0}
                    max={32}
                    value={Number.parseInt(config.theme?.["--nudge-radius"] ?? "12", 10)}
                    onInput={(e) =>
                      setConfig({
                        ...config,
                        theme: { ...config.theme, "--nudge-radius": `${(e.target as HTMLInputElement).value || 0}px` },
                      })
                    }
                  />
                  <label for="default-locale">Language when the page's is not en, fr or ru</label>
                  <select
                    id="default-locale"
                    value={config.locale ?? "en"}
                    onChange={(e) => setConfig({ ...config, locale: (e.target as HTMLSelectElement).value as Locale })}
                  >
                    {LOCALES.map((l) => (
                      <option key={l}>{l}</option>
                    ))}
                  </select>
                </fieldset>
                <button type="submit">Save widgets</button>
                <p role="status" class="status">
                  {status}
                </p>
              </form>
              <Preview config={config} widget={widget} locale={locale} />
            </div>
          )
        }
      </Loaded>
    </>
  );
}
