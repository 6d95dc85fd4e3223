import { type ComponentType, render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, type SiteInfo, setSignedIn, whenSignedOut } from "./api";
import { CampaignResults, Campaigns, Templates } from "./pages/campaigns";
import { Callbacks } from "./pages/callbacks";
import { ContactProfile, Contacts } from "./pages/contacts";
import { Overview } from "./pages/overview";
import { Promotions } from "./pages/promotions";
import { SignIn } from "./pages/sign-in";

/**
 * The merchant dashboard at /admin: one preact app, routed by the URL's hash (#/campaigns) so the
 * Worker serves a single page. Signed in = the Worker accepts our session cookie; the cookie is
 * HttpOnly, so we learn it by asking (GET /v1/admin/session).
 */

const NAV: [string, string][] = [
  ["#/", "Overview"],
  ["#/campaigns", "Campaigns"],
  ["#/templates", "Templates"],
  ["#/callbacks", "Callbacks"],
  ["#/contacts", "Contacts"],
  ["#/promotions", "Promotions"],
  ["#/widgets", "Widgets"],
  ["#/segments", "Segments"],
  ["#/settings", "Settings"],
];

/**
 * The editors load the first time they are opened (chunks of their own, rollup.config.ts): most
 * visits read figures and never need them, and together they weigh as much as the rest of the app.
 */
// biome-ignore lint/suspicious/noExplicitAny: each page takes its own props; Page passes the right ones
type Load = () => Promise<ComponentType<any>>;
const editors = {
  campaign: () => import("./pages/campaign-editor").then((m) => m.CampaignEditor),
  segments: () => import("./pages/segments").then((m) => m.Segments),
  settings: () => import("./pages/settings").then((m) => m.Settings),
  widgets: () => import("./pages/widgets").then((m) => m.Widgets),
} satisfies Record<string, Load>;

function Lazy({ load, ...props }: { load: Load } & Record<string, unknown>) {
  // Kept with the loader it came from: moving from one editor to another reuses this component, and
  // the previous page must not render once with the next one's props (a campaign editor without an id).
  const [state, setState] = useState<{ load?: Load; page?: ComponentType; error?: string }>({});
  useEffect(() => {
    let live = true;
    load().then(
      (page) => live && setState({ load, page }),
      () => live && setState({ load, error: "This page could not be loaded. Check the connection and reload." }),
    );
    return () => {
      live = false;
    };
  }, [load]);
  const Page = state.load === load ? state.page : undefined;
  if (Page) return <Page {...props} />;
  return state.load === load && state.error ? (
    <p role="alert" class="error">
      {state.error}
    </p>
  ) : (
    <p class="loading" role="status">
      Loading…
    </p>
  );
}

const route = () => location.hash.replace(/^#/, "") || "/";

function Page({ path, site }: { path: string; site: SiteInfo }) {
  const [, section, id, sub] = path.split("/");
  const param = id ? decodeURIComponent(id) : "";
  switch (section) {
    case "campaigns":
      return sub === "edit" ? (
        <Lazy load={editors.campaign} id={param} />
      ) : param ? (
        <CampaignResults id={param} site={site} />
      ) : (
        <Campaigns />
      );
    case "templates":
      return <Templates />;
    case "callbacks":
      return <Callbacks />;
    case "contacts":
      return param ? <ContactProfile id={param} site={site} /> : <Contacts site={site} />;
    case "promotions":
      return <Promotions site={site} />;
    case "widgets":
      return <Lazy load={editors.widgets} />;
    case "segments":
      return <Lazy load={editors.segments} />;
    case "settings":
      return <Lazy load={editors.settings} />;
    default:
      return <Overview site={site} />;
  }
}

function App() {
  const [site, showSite] = useState<SiteInfo | null | undefined>(undefined);
  const setSite = (s: SiteInfo | null) => {
    setSignedIn(s !== null);
    showSite(s);
  };
  const [path, setPath] = useState(route());
  const main = useRef<HTMLElement>(null);
  useEffect(() => {
    whenSignedOut(() => setSite(null));
    api<{ site: SiteInfo | null }>("/v1/admin/session").then(
      (r) => setSite(r.site),
      () => setSite(null),
    );
    const onHash = () => setPath(route());
    addEventListener("hashchange", onHash);
    return () => removeEventListener("hashchange", onHash);
  }, []);
  // A new page (or signing in): move focus to its heading, so keyboard and screen reader users
  // start there. Not on the first load: the browser starts at the top, with the skip link.
  const loaded = useRef(false);
  useEffect(() => {
    if (site === undefined) return;
    if (loaded.current) main.current?.querySelector<HTMLElement>("h1")?.focus();
    loaded.current = true;
  }, [path, site]);

  if (site === undefined)
    return (
      <main class="loading">
        <p role="status">Loading the dashboard…</p>
      </main>
    );
  if (site === null) return <SignIn onSignedIn={setSite} />;
  const section = `#/${path.split("/")[1] ?? ""}`;
  const signOut = async () => {
    setSignedIn(false);
    await api("/v1/admin/session", { method: "DELETE" }).catch(() => {});
    setSite(null);
  };
  return (
    <>
      {/* A button, not a #main link: the URL's hash is the router's. */}
      <button type="button" class="skip" onClick={() => main.current?.focus()}>
        Skip to content
      </button>
      <header class="top">
        <p class="brand">
          Nudge <span>· {site.name}</span>
        </p>
        <button type="button" class="secondary" onClick={signOut}>
          Sign out
        </button>
      </header>
      <nav aria-label="Dashboard">
        <ul>
          {NAV.map(([href, name]) => (
            <li key={href}>
              <a
                href={href}
                aria-current={section === href || (href === "#/" && section === "#/") ? "page" : undefined}
              >
                {name}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" ref={main} tabIndex={-1}>
        <Page path={path} site={site} />
      </main>
    </>
  );
}

const root = document.getElementById("app");
if (root) {
  root.textContent = "";
  render(<App />, root);
}
