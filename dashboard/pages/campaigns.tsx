import { useState } from "preact/hooks";
import { api, type SiteInfo } from "../api";
import { BarChart, daily } from "../chart";
import { count, money, percent, points } from "../format";
import { Loaded, PeriodPicker, periodQuery, Table, Tiles, useData } from "../ui";

interface Step {
  delayMs: number;
  channel: string;
  template: string;
  subject?: string;
  coupon?: { promotionId: string };
  variants?: { id: string; weight: number; subject?: string }[];
}
interface Campaign {
  id: string;
  name: string;
  enabled: boolean;
  trigger: { type: string; events?: string[] };
  steps: Step[];
  holdoutPercent: number;
}

const delay = (ms: number) =>
  ms === 0
    ? "at once"
    : ms % 86400_000 === 0
      ? `${ms / 86400_000} d`
      : ms % 3600_000 === 0
        ? `${ms / 3600_000} h`
        : `${Math.round(ms / 60_000)} min`;

const triggerText = (t: Campaign["trigger"]) =>
  t.type === "event" ? `event: ${(t.events ?? []).join(", ")}` : t.type.replace("_", " ");

export function Campaigns() {
  const state = useData(() => api<{ campaigns: Campaign[] }>("/v1/admin/campaigns"), []);
  return (
    <>
      <h1 tabIndex={-1}>Campaigns</h1>
      <Loaded state={state}>
        {({ campaigns }) =>
          campaigns.length === 0 ? (
            <p class="empty">
              No campaigns yet. <a href="#/templates">Start one from a template</a>.
            </p>
          ) : (
            <Table label="Campaigns">
              <thead>
                <tr>
                  <th scope="col">Campaign</th>
                  <th scope="col">Trigger</th>
                  <th scope="col">Steps</th>
                  <th scope="col">Holdout</th>
                  <th scope="col">Status</th>
                  <th scope="col">Change</th>
                </tr>
              </thead>
              <tbody>
                {campaigns.map((c) => (
                  <tr key={c.id}>
                    <th scope="row">
                      <a href={`#/campaigns/${encodeURIComponent(c.id)}`}>{c.name}</a>
                    </th>
                    <td>{triggerText(c.trigger)}</td>
                    <td>{c.steps.map((s) => `${s.channel} after ${delay(s.delayMs)}`).join(" → ")}</td>
                    <td>{c.holdoutPercent} %</td>
                    <td>{c.enabled ? "Live" : "Paused"}</td>
                    <td>
                      <a
                        href={`#/campaigns/${encodeURIComponent(c.id)}/edit`}
                        aria-label={`Edit the steps of ${c.name}`}
                      >
                        Edit
                      </a>
                    </td>
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

interface Group {
  group: string;
  recipients: number;
  messages: number;
  delivered: number;
  opened: number;
  clicked: number;
  converted: number;
  revenue: number;
  unsubscribed: number;
  bounced: number;
  failed: number;
}
interface Results {
  from: string;
  to: string;
  windowDays: number;
  groups: (Group & { conversionRate: number; revenuePerRecipient: number })[];
  steps: { step: number; channel: string | null; groups: Group[] }[];
  days: { date: string; group: string; recipients: number; delivered: number; orders: number; revenue: number }[];
  lift: {
    conversion: {
      treated: number;
      control: number;
      difference: number;
      differenceCi: { low: number; high: number };
      relative: number | null;
      relativeCi: { low: number; high: number } | null;
      pValue: number;
    } | null;
    revenuePerRecipient: { difference: number; ci: { low: number; high: number }; pValue: number } | null;
    sampleNeeded: { mde: number; perArm: number | null; remaining: number | null };
  } | null;
  ab: { winner: string | null; probabilities: Record<string, number>; reason: string } | null;
  notes: string[];
}

const groupName = (g: string) => (g === "holdout" ? "Holdout (control)" : g === "all" ? "Treated" : `Variant ${g}`);

function GroupRows({ groups, cur }: { groups: Group[]; cur: (v: number) => string }) {
  return (
    <>
      {groups.map((g) => (
        <tr key={g.group}>
          <th scope="row">{groupName(g.group)}</th>
          <td>{count(g.recipients)}</td>
          <td>{count(g.delivered)}</td>
          <td>{count(g.opened)}</td>
          <td>{count(g.clicked)}</td>
          <td>{count(g.converted)}</td>
          <td>{cur(g.revenue)}</td>
          <td>{count(g.unsubscribed)}</td>
          <td>{count(g.bounced)}</td>
        </tr>
      ))}
    </>
  );
}

const HEAD = [
  "Group",
  "Recipients",
  "Delivered",
  "Opened",
  "Clicked",
  "Converted",
  "Revenue",
  "Unsubscribed",
  "Bounced",
];

function Lift({ r, cur }: { r: Results; cur: (v: number) => string }) {
  const l = r.lift;
  if (!l?.conversion)
    return (
      <p class="note">
        No holdout in this period: lift cannot be measured. Give the campaign a holdout share to compare with a control
        group.
      </p>
    );
  const c = l.conversion;
  // Significance by the pooled z-test's p-value; the Wald interval is shown, but with few
  // recipients or no conversions in a group it is too narrow to decide on (it can exclude 0 at p > 0.05).
  const significant = c.pValue < 0.05;
  const small = r.groups.some((g) => g.recipients < 30 || g.converted === 0);
  return (
    <section aria-labelledby="lift-h">
      <h2 id="lift-h">Lift over the holdout</h2>
      <Tiles
        items={[
          ["Conversion, treated", percent(c.treated, 2)],
          ["Conversion, holdout", percent(c.control, 2)],
          [
            "Difference",
            points(c.difference),
            `95 % CI ${points(c.differenceCi.low)} to ${points(c.differenceCi.high)}`,
          ],
          [
            "Relative lift",
            c.relative === null ? "—" : percent(c.relative),
            c.relativeCi
              ? `95 % CI ${percent(c.relativeCi.low)} to ${percent(c.relativeCi.high)}`
              : "needs conversions in both groups",
          ],
          [
            "Revenue per recipient",
            l.revenuePerRecipient ? cur(l.revenuePerRecipient.difference) : "—",
            l.revenuePerRecipient
              ? `95 % CI ${cur(l.revenuePerRecipient.ci.low)} to ${cur(l.revenuePerRecipient.ci.high)}`
              : "needs 2 recipients per group",
          ],
        ]}
      />
      <p>
        {significant
          ? `The difference is statistically significant (two-proportion z-test, p = ${c.pValue.toPrecision(2)}).`
          : `Not significant yet (two-proportion z-test, p = ${c.pValue.toPrecision(2)}).`}{" "}
        {small ? "With fewer than 30 recipients or no conversion in a group, treat the intervals as rough. " : ""}
        {l.sampleNeeded.perArm === null
          ? "The sample needed can be estimated once the holdout has conversions."
          : `To detect a ${percent(l.sampleNeeded.mde, 0)} relative lift (80 % power, α 0.05) each group needs ${count(l.sampleNeeded.perArm)} recipients: ${count(l.sampleNeeded.remaining ?? 0)} more.`}
      </p>
    </section>
  );
}

export function CampaignResults({ id, site }: { id: string; site: SiteInfo }) {
  const [days, setDays] = useState("");
  const def = useData(
    () => api<{ campaign: Campaign; enabled: boolean }>(`/v1/admin/campaigns/${encodeURIComponent(id)}`),
    [id],
  );
  const state = useData(
    () => api<Results>(`/v1/admin/campaigns/${encodeURIComponent(id)}/results${periodQuery(days)}`),
    [id, days],
  );
  const cur = (v: number) => money(v, site.currency);
  return (
    <>
      <p class="crumbs">
        <a href="#/campaigns">Campaigns</a> · <a href={`#/campaigns/${encodeURIComponent(id)}/edit`}>Edit steps</a>
      </p>
      <h1 tabIndex={-1}>{def.data?.campaign.name ?? id}: results</h1>
      <Loaded state={def}>
        {({ campaign }) => (
          <Table label="Steps">
            <thead>
              <tr>
                <th scope="col">Step</th>
                <th scope="col">Delay</th>
                <th scope="col">Channel</th>
                <th scope="col">Content</th>
                <th scope="col">Coupon</th>
                <th scope="col">A/B variants</th>
              </tr>
            </thead>
            <tbody>
              {campaign.steps.map((s, i) => (
                <tr key={`${i}-${s.template}`}>
                  <th scope="row">{i + 1}</th>
                  <td>{delay(s.delayMs)}</td>
                  <td>{s.channel}</td>
                  <td>
                    {s.template}
                    {s.subject ? ` — “${s.subject}”` : ""}
                  </td>
                  <td>{s.coupon ? s.coupon.promotionId : "—"}</td>
                  <td>{s.variants ? s.variants.map((v) => `${v.id} (${v.weight})`).join(", ") : "—"}</td>
                </tr>
              ))}
            </tbody>
          </Table>
        )}
      </Loaded>
      <PeriodPicker value={days} onChange={setDays} />
      <Loaded state={state}>
        {(r) =>
          r.groups.length === 0 ? (
            <p class="empty">No journey of this campaign started in this period yet.</p>
          ) : (
            <>
              <Table label="Results per group">
                <thead>
                  <tr>
                    {HEAD.map((h) => (
                      <th scope="col" key={h}>
                        {h}
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  <GroupRows groups={r.groups} cur={cur} />
                </tbody>
              </Table>
              <Lift r={r} cur={cur} />
              {r.ab ? (
                <section aria-labelledby="ab-h">
                  <h2 id="ab-h">A/B test</h2>
                  <p>
                    <strong>{r.ab.winner ? `Winner: variant ${r.ab.winner}.` : "No winner yet."}</strong> {r.ab.reason}.
                  </p>
                  <ul>
                    {Object.entries(r.ab.probabilities).map(([arm, p]) => (
                      <li key={arm}>
                        Variant {arm}: {percent(p)} probability to beat the others
                      </li>
                    ))}
                  </ul>
                </section>
              ) : null}
              <h2>Per step</h2>
              {r.steps.map((s) => (
                <Table key={s.step} label={`Step ${s.step} (${s.channel ?? "?"})`}>
                  <thead>
                    <tr>
                      {HEAD.map((h) => (
                        <th scope="col" key={h}>
                          {h}
                        </th>
                      ))}
                    </tr>
                  </thead>
                  <tbody>
                    <GroupRows groups={s.groups} cur={cur} />
                  </tbody>
                </Table>
              ))}
              <h2>Over time</h2>
              <BarChart
                title="Journeys started per day (all groups)"
                points={daily(r.days, (d) => d.recipients, r.from, r.to)}
                format={count}
              />
              <BarChart
                title="Revenue per day, treated"
                points={daily(r.days, (d) => (d.group === "holdout" ? 0 : d.revenue), r.from, r.to)}
                format={cur}
              />
              <details>
                <summary>How these figures are counted</summary>
                <ul>
                  {r.notes.map((n) => (
                    <li key={n}>{n}</li>
                  ))}
                </ul>
              </details>
            </>
          )
        }
      </Loaded>
    </>
  );
}

interface Template {
  id: string;
  name?: string;
  trigger: { type: string; events?: string[] };
  steps: { channel?: string; delay?: string | number }[];
}

export function Templates() {
  const state = useData(
    () =>
      Promise.all([
        api<{ templates: Template[] }>("/v1/admin/campaigns/templates"),
        api<{ campaigns: Campaign[] }>("/v1/admin/campaigns"),
      ]),
    [],
  );
  const [status, setStatus] = useState("");
  const enable = async (id: string) => {
    setStatus(`Enabling ${id}…`);
    try {
      await api(`/v1/admin/campaigns/templates/${encodeURIComponent(id)}/enable`, { method: "POST" });
      setStatus(`${id} is live.`);
      state.reload();
    } catch (e) {
      setStatus(e instanceof Error ? e.message : "Could not enable it.");
    }
  };
  return (
    <>
      <h1 tabIndex={-1}>Campaign templates</h1>
      <p>One template per scenario, ready to run. Enabling one makes it live at once with its built-in steps.</p>
      <p role="status" class="status">
        {status}
      </p>
      <Loaded state={state}>
        {([{ templates }, { campaigns }]) => (
          <ul class="cards">
            {templates.map((t) => {
              const live = campaigns.some((c) => c.id === t.id && c.enabled);
              return (
                <li key={t.id} class="card">
                  <h2>{t.name ?? t.id}</h2>
                  <p>
                    {triggerText(t.trigger)} · {t.steps.length} step{t.steps.length === 1 ? "" : "s"} (
                    {t.steps.map((s) => s.channel ?? "email").join(", ")})
                  </p>
                  {live ? (
                    <p>
                      <strong>Live</strong> · <a href={`#/campaigns/${encodeURIComponent(t.id)}`}>results</a>
                    </p>
                  ) : (
                    <button type="button" onClick={() => enable(t.id)} aria-label={`Enable ${t.name ?? t.id}`}>
                      Enable
                    </button>
                  )}
                </li>
              );
            })}
          </ul>
        )}
      </Loaded>
    </>
  );
}
