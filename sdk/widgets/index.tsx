import { render } from "preact";
import type { Shown } from "../triggers/index";
import { pickLocale, translator } from "./i18n";
import { CSS } from "./styles";
import { WIDGETS } from "./widgets";

/**
 * The widget chunk (dist/cdn/sdk/widgets.js): preact and every widget, loaded only when a
 * trigger has fired. Renders into its own element's Shadow DOM so the store's CSS and ours never
 * meet; the theme's custom properties are set on that element and inherit inside.
 */
export function show({ widget, config, host, launcher, done }: Shown): () => void {
  const el = document.createElement("nudge-widget");
  el.setAttribute("data-widget", widget.id);
  for (const [k, v] of Object.entries(config.theme ?? {})) el.style.setProperty(k, v);
  const root = el.attachShadow({ mode: "open" });
  const style = document.createElement("style");
  style.textContent = CSS;
  root.append(style);
  document.body.append(el);

  let closed = false;
  const close = (converted?: boolean) => {
    if (closed) return;
    closed = true;
    render(null, root);
    el.remove();
    if (converted === undefined) return done();
    if (!converted) host.track("Widget Dismissed", { widget_id: widget.id, widget_type: widget.type });
    done(converted ? "converted" : "dismissed");
  };
  const t = translator(config, pickLocale(config, document.documentElement.lang, navigator.languages ?? []));
  const View = WIDGETS[widget.type];
  render(<View widget={widget} host={host} t={t} launcher={launcher} finish={close} />, root);
  return () => close();
}
