import { useEffect, useState } from "preact/hooks";
import type { Key } from "../../sdk/widgets/i18n";
import { translator } from "../../sdk/widgets/i18n";
import { type Locale, LOCALES, type OnsiteConfig, TRIGGERS, type TriggerKind, type Widget } from "../../sdk/contract";
import { api } from "../api";
import { Loaded, useData } from "../ui";

/**
 * The onsite widgets editor: trigger, texts per locale and theme, with a preview that uses the
 * widgets' own wording (sdk/widgets/i18n, the merchant's overrides on top) and the theme's accent.
 * The preview is drawn by the dashboard, not the widget chunk: the chunk injects a <style> element,
 * which this page's Content-Security-Policy (no inline styles) rightly refuses.
 */

const keysOf = (w: Widget) => {
  const p = w.type === "cart_reminder" ? "cart" : w.type;
  const keys =
    w.type === "cart_reminder"
      ? ["cart_title", "cart_link"]
      : [`${p}_title`, `${p}_body`, w.type === "coupon" ? "coupon_continue" : `${p}_submit`];
  return keys as Key[];
};

const VALUE_LABEL: Partial<Record<TriggerKind, string>> = {
  exit_intent: "Pixels from the top edge",
  time: "Seconds on the page",
  scroll: "Percent scrolled",
  inactivity: "Seconds without activity",
};

function Preview({ config, widget, locale }: { config: OnsiteConfig; widget: Widget; locale: Locale }) {
  const t = translator(config, locale);
  const [title, body, action] = keysOf(widget);
  const vars = { offer: widget.offer ?? "" };
  const accent = config.theme?.["--nudge-accent"] ?? "#0f6e68";
  return (
    <figure class="preview">
      <div class="preview-box" style={{ "--accent": accent }} lang={locale}>
        {widget.type === "cart_reminder" ? (
          <p class="preview-bar">
            {t(title as Key, vars)} <span class="preview-button">{t(body as Key, vars)}</span>
          </p>
        ) : (
          <>
            <p class="preview-title">{t(title as Key, vars)}</p>
            <p>{t(body as Key, vars)}</p>
            {action ? <span class="preview-button">{t(action, vars)}</span> : null}
          </>
        )}
      </div>
      <figcaption>
        Preview of “{widget.id}” ({locale})
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
                    {LOCALES.map((l) => (
                      <option key={l} value={l}>
                        {l}
                      </option>
                    ))}
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
                  <label for="accent">Accent colour</label>
                  <input
                    id="accent"
                    type="color"
                    value={config.theme?.["--nudge-accent"] ?? "#0f6e68"}
                    onInput={(e) =>
                      setConfig({
                        ...config,
                        theme: { ...config.theme, "--nudge-accent": (e.target as HTMLInputElement).value },
                      })
                    }
                  />
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
