import { useEffect, useState } from "preact/hooks";
import { api } from "../api";
import { MessagePreview } from "../preview";
import { Loaded, useData } from "../ui";

/**
 * A campaign's steps: delay, channel, message template, subject, coupon, the merchant's words per
 * locale (content blocks) and A/B variants, with the holdout share; the live preview beside them.
 * Saved through the admin API (PUT /v1/admin/campaigns/:id), which validates everything again.
 *
 * Steps are kept as the objects the API gave: the editor changes the fields it knows and leaves
 * every other one (a branching step's `if` or `waitUntil`, say) as it was, shown read-only.
 */

type Dict = Record<string, unknown>;
type Copy = { subject?: string; intro?: string; cta?: string };
interface Message {
  id: string;
  copy: Record<string, Copy>;
}

const LOCALES = ["en", "fr", "ru"];
const CHANNELS = ["email", "sms", "call", "webhook"];
const KNOWN = new Set(["delayMs", "delay", "channel", "template", "subject", "coupon", "content", "variants", "url"]);
const UNITS: [string, number][] = [
  ["minutes", 60_000],
  ["hours", 3600_000],
  ["days", 86400_000],
];
const PARTS: [keyof Copy, string, number][] = [
  ["subject", "Subject", 200],
  ["intro", "Text", 1000],
  ["cta", "Button", 60],
];

const str = (v: unknown) => (typeof v === "string" ? v : "");
const dict = (v: unknown): Dict => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Dict) : {});
/** The largest unit that divides the delay: 90 minutes stay minutes, 48 hours become 2 days. */
const unitOf = (ms: number) => [...UNITS].reverse().find(([, u]) => ms % u === 0) ?? UNITS[0];

/** `o` with `key` set, or removed when `value` is undefined or "". */
const set = (o: Dict, key: string, value: unknown): Dict => {
  const { [key]: _, ...rest } = o;
  return value === undefined || value === "" ? rest : { ...rest, [key]: value };
};

function StepEditor(props: {
  step: Dict;
  i: number;
  count: number;
  messages: Message[];
  promotions: { id: string; name?: string }[];
  locale: string;
  selected: boolean;
  change: (s: Dict) => void;
  move: (by: number) => void;
  remove: () => void;
  select: () => void;
}) {
  const { step, i, messages, locale, change } = props;
  const n = i + 1;
  const id = (f: string) => `s${i}-${f}`;
  const ms = typeof step.delayMs === "number" ? step.delayMs : 0;
  const [unitName, unit] = unitOf(ms) as [string, number];
  const channel = str(step.channel) || "email";
  const coupon = step.coupon === undefined ? undefined : dict(step.coupon);
  const content = dict(step.content);
  const words = dict(content[locale]) as Copy;
  const builtIn = messages.find((m) => m.id === step.template)?.copy[locale] ?? {};
  const variants = Array.isArray(step.variants) ? (step.variants as Dict[]) : undefined;
  const others = Object.keys(step).filter((k) => !KNOWN.has(k));
  // An emptied field, locale or content block is removed, so the template's words apply again.
  const setWords = (part: keyof Copy, value: string) => {
    const next = set(words as Dict, part, value);
    const all = set(content, locale, Object.keys(next).length ? next : undefined);
    change(set(step, "content", Object.keys(all).length ? all : undefined));
  };
  const setVariants = (vs: Dict[] | undefined) => change(set(step, "variants", vs && vs.length >= 2 ? vs : undefined));
  return (
    <fieldset class={props.selected ? "step selected" : "step"}>
      <legend>Step {n}</legend>
      <div class="row">
        <div>
          <label for={id("delay")}>Wait</label>
          <input
            id={id("delay")}
            type="number"
            min={0}
            max={525600}
            value={ms / unit}
            onInput={(e) => {
              const v = Number((e.target as HTMLInputElement).value);
              if (Number.isFinite(v) && v >= 0)
                change({ ...set(step, "delay", undefined), delayMs: Math.round(v * unit) });
            }}
          />
        </div>
        <div>
          <label for={id("unit")}>Unit</label>
          <select
            id={id("unit")}
            value={unitName}
            onChange={(e) => {
              const u = UNITS.find(([name]) => name === (e.target as HTMLSelectElement).value)?.[1] ?? unit;
              change({ ...set(step, "delay", undefined), delayMs: (ms / unit) * u });
            }}
          >
            {UNITS.map(([name]) => (
              <option key={name}>{name}</option>
            ))}
          </select>
        </div>
        <div>
          <label for={id("channel")}>Channel</label>
          <select
            id={id("channel")}
            value={channel}
            onChange={(e) => change({ ...step, channel: (e.target as HTMLSelectElement).value })}
          >
            {CHANNELS.map((c) => (
              <option key={c}>{c}</option>
            ))}
          </select>
        </div>
        <div>
          <label for={id("template")}>Message</label>
          <select
            id={id("template")}
            value={str(step.template)}
            onChange={(e) => change({ ...step, template: (e.target as HTMLSelectElement).value })}
          >
            {messages.map((m) => (
              <option key={m.id}>{m.id}</option>
            ))}
          </select>
        </div>
      </div>
      {channel === "webhook" ? (
        <>
          <label for={id("url")}>Webhook URL</label>
          <input
            id={id("url")}
            type="url"
            value={str(step.url)}
            maxLength={2000}
            onInput={(e) => change(set(step, "url", (e.target as HTMLInputElement).value))}
          />
        </>
      ) : null}
      <label for={id("subject")}>Subject, every language</label>
      <input
        id={id("subject")}
        value={str(step.subject)}
        maxLength={200}
        placeholder={builtIn.subject}
        onInput={(e) => change(set(step, "subject", (e.target as HTMLInputElement).value))}
      />
      <fieldset>
        <legend>Words in {locale} (empty: the template's)</legend>
        {PARTS.map(([part, name, max]) => (
          <div key={part}>
            <label for={id(`w-${part}`)}>{name}</label>
            {part === "intro" ? (
              <textarea
                id={id(`w-${part}`)}
                rows={3}
                maxLength={max}
                value={words[part] ?? ""}
                placeholder={builtIn[part]}
                onInput={(e) => setWords(part, (e.target as HTMLTextAreaElement).value)}
              />
            ) : (
              <input
                id={id(`w-${part}`)}
                maxLength={max}
                value={words[part] ?? ""}
                placeholder={builtIn[part]}
                onInput={(e) => setWords(part, (e.target as HTMLInputElement).value)}
              />
            )}
          </div>
        ))}
        <p class="note">Placeholders: {"{name} {store} {items} {product} {sender} {window}"}.</p>
      </fieldset>
      <div class="row">
        <label class="check">
          <input
            type="checkbox"
            checked={coupon !== undefined}
            onChange={(e) =>
              change(
                set(
                  step,
                  "coupon",
                  (e.target as HTMLInputElement).checked
                    ? { promotionId: props.promotions[0]?.id ?? "", expiresDays: 14 }
                    : undefined,
                ),
              )
            }
          />{" "}
          Coupon in this step
        </label>
        {coupon ? (
          <>
            <div>
              <label for={id("promo")}>Promotion</label>
              <select
                id={id("promo")}
                value={str(coupon.promotionId)}
                onChange={(e) =>
                  change({ ...step, coupon: { ...coupon, promotionId: (e.target as HTMLSelectElement).value } })
                }
              >
                {props.promotions.map((p) => (
                  <option key={p.id} value={p.id}>
                    {p.name ?? p.id}
                  </option>
                ))}
              </select>
            </div>
            <div>
              <label for={id("expires")}>Code valid (days)</label>
              <input
                id={id("expires")}
                type="number"
                min={1}
                max={365}
                value={typeof coupon.expiresDays === "number" ? coupon.expiresDays : 14}
                onInput={(e) =>
                  change({ ...step, coupon: { ...coupon, expiresDays: Number((e.target as HTMLInputElement).value) } })
                }
              />
            </div>
          </>
        ) : null}
      </div>
      <fieldset>
        <legend>A/B variants</legend>
        {variants ? (
          variants.map((v, j) => (
            <div class="row" key={j}>
              <div>
                <label for={id(`v${j}-id`)}>Variant</label>
                <input
                  id={id(`v${j}-id`)}
                  value={str(v.id)}
                  maxLength={32}
                  size={4}
                  onInput={(e) =>
                    setVariants(
                      variants.map((x, k) => (k === j ? { ...x, id: (e.target as HTMLInputElement).value } : x)),
                    )
                  }
                />
              </div>
              <div>
                <label for={id(`v${j}-weight`)}>Weight</label>
                <input
                  id={id(`v${j}-weight`)}
                  type="number"
                  min={0}
                  max={1000}
                  value={typeof v.weight === "number" ? v.weight : 1}
                  onInput={(e) =>
                    setVariants(
                      variants.map((x, k) =>
                        k === j ? { ...x, weight: Number((e.target as HTMLInputElement).value) } : x,
                      ),
                    )
                  }
                />
              </div>
              <div class="grow">
                <label for={id(`v${j}-subject`)}>Subject</label>
                <input
                  id={id(`v${j}-subject`)}
                  value={str(v.subject)}
                  maxLength={200}
                  onInput={(e) =>
                    setVariants(
                      variants.map((x, k) => (k === j ? set(x, "subject", (e.target as HTMLInputElement).value) : x)),
                    )
                  }
                />
              </div>
              <button
                type="button"
                class="secondary"
                aria-label={`Remove variant ${str(v.id)} of step ${n}`}
                onClick={() => setVariants(variants.filter((_, k) => k !== j))}
              >
                Remove
              </button>
            </div>
          ))
        ) : (
          <p class="note">No A/B test: everyone gets the same message.</p>
        )}
        {(variants?.length ?? 0) < 5 ? (
          <button
            type="button"
            class="secondary"
            onClick={() =>
              setVariants(
                variants
                  ? [...variants, { id: String.fromCharCode(65 + variants.length), weight: 1 }]
                  : [
                      { id: "A", weight: 1 },
                      { id: "B", weight: 1 },
                    ],
              )
            }
          >
            {variants ? `Add a variant to step ${n}` : `A/B test step ${n}`}
          </button>
        ) : null}
      </fieldset>
      {others.length > 0 ? (
        <details>
          <summary>Other settings kept as they are: {others.join(", ")}</summary>
          <pre>{JSON.stringify(Object.fromEntries(others.map((k) => [k, step[k]])), null, 2)}</pre>
        </details>
      ) : null}
      <p class="actions">
        <button type="button" class="secondary" aria-pressed={props.selected} onClick={props.select}>
          Preview step {n}
        </button>
        <button
          type="button"
          class="secondary"
          disabled={i === 0}
          onClick={() => props.move(-1)}
          aria-label={`Move step ${n} up`}
        >
          Up
        </button>
        <button
          type="button"
          class="secondary"
          disabled={i === props.count - 1}
          onClick={() => props.move(1)}
          aria-label={`Move step ${n} down`}
        >
          Down
        </button>
        <button
          type="button"
          class="secondary"
          disabled={props.count === 1}
          onClick={props.remove}
          aria-label={`Remove step ${n}`}
        >
          Remove
        </button>
      </p>
    </fieldset>
  );
}

export function CampaignEditor({ id }: { id: string }) {
  const path = `/v1/admin/campaigns/${encodeURIComponent(id)}`;
  const state = useData(
    () =>
      Promise.all([
        api<{ campaign: Dict; enabled: boolean }>(path),
        api<{ messages: Message[] }>("/v1/admin/campaigns/messages"),
        api<{ promotions: { id: string; name?: string }[] }>("/v1/admin/promotions"),
      ]),
    [id],
  );
  const [def, setDef] = useState<Dict | null>(null);
  const [enabled, setEnabled] = useState(true);
  const [locale, setLocale] = useState("en");
  const [current, setCurrent] = useState(0);
  const [status, setStatus] = useState("");
  useEffect(() => {
    if (!state.data) return;
    setDef(state.data[0].campaign);
    setEnabled(state.data[0].enabled);
  }, [state.data]);
  const steps = (Array.isArray(def?.steps) ? def.steps : []) as Dict[];
  const setSteps = (s: Dict[]) => def && setDef({ ...def, steps: s });
  const save = async (e: Event) => {
    e.preventDefault();
    setStatus("Saving…");
    try {
      const r = await api<{ campaign: Dict; warnings?: string[] }>(path, { method: "PUT", body: { ...def, enabled } });
      setDef(r.campaign);
      setStatus(`Saved.${r.warnings?.length ? ` ${r.warnings.join(" ")}` : ""}`);
    } catch (err) {
      setStatus(err instanceof Error ? `Not saved: ${err.message}` : "Not saved.");
    }
  };
  const step = steps[Math.min(current, steps.length - 1)];
  return (
    <>
      <p class="crumbs">
        <a href="#/campaigns">Campaigns</a> · <a href={`#/campaigns/${encodeURIComponent(id)}`}>results</a>
      </p>
      <h1 tabIndex={-1}>Edit {str(def?.name) || id}</h1>
      <Loaded state={state}>
        {([, { messages }, { promotions }]) =>
          !def || !step ? (
            <p class="loading">Loading…</p>
          ) : (
            <div class="editor">
              <form onSubmit={save}>
                <div class="row">
                  <div class="grow">
                    <label for="c-name">Name</label>
                    <input
                      id="c-name"
                      value={str(def.name)}
                      maxLength={200}
                      onInput={(e) => setDef({ ...def, name: (e.target as HTMLInputElement).value })}
                    />
                  </div>
                  <div>
                    <label for="c-holdout">Holdout (%)</label>
                    <input
                      id="c-holdout"
                      type="number"
                      min={0}
                      max={90}
                      value={typeof def.holdoutPercent === "number" ? def.holdoutPercent : 0}
                      onInput={(e) => setDef({ ...def, holdoutPercent: Number((e.target as HTMLInputElement).value) })}
                    />
                  </div>
                  <div>
                    <label for="c-locale">Language</label>
                    <select
                      id="c-locale"
                      value={locale}
                      onChange={(e) => setLocale((e.target as HTMLSelectElement).value)}
                    >
                      {LOCALES.map((l) => (
                        <option key={l}>{l}</option>
                      ))}
                    </select>
                  </div>
                </div>
                <label class="check">
                  <input
                    type="checkbox"
                    checked={enabled}
                    onChange={(e) => setEnabled((e.target as HTMLInputElement).checked)}
                  />{" "}
                  Live (unticked: paused)
                </label>
                {steps.map((s, i) => (
                  <StepEditor
                    // Steps have no id; StepEditor keeps no state of its own, so keying by position is safe.
                    key={i}
                    step={s}
                    i={i}
                    count={steps.length}
                    messages={messages}
                    promotions={promotions}
                    locale={locale}
                    selected={i === current}
                    select={() => setCurrent(i)}
                    change={(x) => setSteps(steps.map((y, j) => (j === i ? x : y)))}
                    move={(by) => {
                      const next = [...steps];
                      const [moved] = next.splice(i, 1);
                      if (moved) next.splice(i + by, 0, moved);
                      setSteps(next);
                      setCurrent(i + by);
                    }}
                    remove={() => {
                      setSteps(steps.filter((_, j) => j !== i));
                      setCurrent(0);
                    }}
                  />
                ))}
                <p class="actions">
                  {steps.length < 10 ? (
                    <button
                      type="button"
                      class="secondary"
                      onClick={() => {
                        setSteps([
                          ...steps,
                          { delayMs: 86400_000, channel: "email", template: str(steps.at(-1)?.template) || "welcome" },
                        ]);
                        setCurrent(steps.length);
                      }}
                    >
                      Add a step
                    </button>
                  ) : null}
                  <button type="submit">Save campaign</button>
                </p>
                <p role="status" class="status">
                  {status}
                </p>
              </form>
              <MessagePreview
                channel={str(step.channel) || "email"}
                request={{
                  template: str(step.template),
                  locale,
                  subject: str(step.subject),
                  content: dict(dict(step.content)[locale]) as Copy,
                  coupon: step.coupon !== undefined,
                }}
              />
            </div>
          )
        }
      </Loaded>
    </>
  );
}
