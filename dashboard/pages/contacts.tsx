import { useState } from "preact/hooks";
import { api, type SiteInfo } from "../api";
import { count, dateTime, money } from "../format";
import { Loaded, Table, Tiles, useData } from "../ui";

interface Row {
  id: string;
  email: string | null;
  name: string | null;
  phone: string | null;
  ordersCount: number;
  totalSpent: number;
  unsubscribed: number;
  lastSeen: number;
}

export function Contacts({ site }: { site: SiteInfo }) {
  const [q, setQ] = useState("");
  const [query, setQuery] = useState("");
  const state = useData(
    () => api<{ contacts: Row[] }>(`/v1/admin/dashboard/contacts?q=${encodeURIComponent(query)}`),
    [query],
  );
  return (
    <>
      <h1 tabIndex={-1}>Contacts</h1>
      {/* biome-ignore lint/a11y/useSemanticElements: <search> is too new for preact's JSX types; the role is the same */}
      <form
        role="search"
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          setQuery(q.trim());
        }}
      >
        <label for="q">Email, name, phone or id starts with</label>
        <input
          id="q"
          type="search"
          value={q}
          maxLength={100}
          onInput={(e) => setQ((e.target as HTMLInputElement).value)}
        />
        <button type="submit">Search</button>
      </form>
      <Loaded state={state}>
        {({ contacts }) =>
          contacts.length === 0 ? (
            <p class="empty">
              {query
                ? `No contact starts with “${query}”.`
                : "No contacts yet: they appear as shoppers visit the store."}
            </p>
          ) : (
            <Table label={query ? `Contacts matching “${query}”` : "Latest contacts"}>
              <thead>
                <tr>
                  <th scope="col">Contact</th>
                  <th scope="col">Orders</th>
                  <th scope="col">Spent</th>
                  <th scope="col">Last seen</th>
                  <th scope="col">Marketing</th>
                </tr>
              </thead>
              <tbody>
                {contacts.map((c) => (
                  <tr key={c.id}>
                    <th scope="row">
                      <a href={`#/contacts/${encodeURIComponent(c.id)}`}>
                        {c.email ?? c.name ?? c.phone ?? "Anonymous visitor"}
                      </a>
                    </th>
                    <td>{count(c.ordersCount)}</td>
                    <td>{money(c.totalSpent, site.currency)}</td>
                    <td>{dateTime(c.lastSeen)}</td>
                    <td>{c.unsubscribed ? "Unsubscribed" : "Subscribed"}</td>
                  </tr>
                ))}
              </tbody>
            </Table>
          )
        }
      </Loaded>
    </>
  );
}

interface Profile {
  id: string;
  email: string | null;
  userId: string | null;
  phone: string | null;
  name: string | null;
  firstSeen: number;
  lastSeen: number;
  ordersCount: number;
  totalSpent: number;
  spent365: number;
  unsubscribed: boolean;
  cart: { items: number; value: number } | null;
}

export function ContactProfile({ id, site }: { id: string; site: SiteInfo }) {
  const path = `/v1/admin/contacts/${encodeURIComponent(id)}`;
  const state = useData(
    () =>
      Promise.all([
        api<{ contact: Profile }>(path),
        api<{ timeline: { kind: string; title: string; at: number; detail: string | null }[] }>(
          `/v1/admin/dashboard/contacts/${encodeURIComponent(id)}/timeline`,
        ),
      ]),
    [id],
  );
  const [confirm, setConfirm] = useState(false);
  const [status, setStatus] = useState("");
  const [download, setDownload] = useState("");
  const exportData = async () => {
    setStatus("Preparing the export…");
    try {
      const data = await api<unknown>(`${path}/export`);
      setDownload(URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" })));
      setStatus("The export is ready.");
    } catch (e) {
      setStatus(e instanceof Error ? e.message : "Export failed.");
    }
  };
  const erase = async () => {
    try {
      await api(path, { method: "DELETE" });
      setStatus("The contact and everything stored about them were erased.");
      location.hash = "#/contacts";
    } catch (e) {
      setStatus(e instanceof Error ? e.message : "Erasure failed.");
    }
  };
  const cur = (v: number) => money(v, site.currency);
  return (
    <>
      <p class="crumbs">
        <a href="#/contacts">Contacts</a>
      </p>
      <Loaded state={state}>
        {([{ contact: c }, { timeline }]) => (
          <>
            <h1 tabIndex={-1}>{c.name ?? c.email ?? "Anonymous visitor"}</h1>
            <Tiles
              items={[
                ["Orders", count(c.ordersCount)],
                ["Total spent", cur(c.totalSpent)],
                ["Spent, last 365 days", cur(c.spent365)],
                ["Open cart", c.cart ? `${c.cart.items} items, ${cur(c.cart.value)}` : "none"],
              ]}
            />
            <dl class="facts">
              <dt>Email</dt>
              <dd>{c.email ?? "—"}</dd>
              <dt>Phone</dt>
              <dd>{c.phone ?? "—"}</dd>
              <dt>User id</dt>
              <dd>{c.userId ?? "—"}</dd>
              <dt>First seen</dt>
              <dd>{dateTime(c.firstSeen)}</dd>
              <dt>Marketing</dt>
              <dd>{c.unsubscribed ? "Unsubscribed" : "Subscribed"}</dd>
            </dl>
            <h2>Timeline</h2>
            {timeline.length === 0 ? (
              <p class="empty">Nothing recorded yet.</p>
            ) : (
              <ol class="timeline">
                {timeline.map((t, i) => (
                  <li key={`${t.at}-${i}`}>
                    <time>{dateTime(t.at)}</time> {t.kind === "message" ? "Message: " : ""}
                    {t.title}
                    {t.detail ? ` (${t.detail})` : ""}
                  </li>
                ))}
              </ol>
            )}
            <h2>Privacy</h2>
            <p class="actions">
              <button type="button" class="secondary" onClick={exportData}>
                Export their data
              </button>
              {download ? (
                <a href={download} download={`contact-${c.id}.json`}>
                  Download the export
                </a>
              ) : null}
              {confirm ? (
                <>
                  <button type="button" class="danger" onClick={erase}>
                    Erase for good
                  </button>
                  <button type="button" class="secondary" onClick={() => setConfirm(false)}>
                    Keep
                  </button>
                </>
              ) : (
                <button type="button" class="danger" onClick={() => setConfirm(true)}>
                  Erase this contact…
                </button>
              )}
            </p>
            <p role="status" class="status">
              {status}
            </p>
          </>
        )}
      </Loaded>
      {state.data === undefined ? <h1 tabIndex={-1}>Contact</h1> : null}
    </>
  );
}
