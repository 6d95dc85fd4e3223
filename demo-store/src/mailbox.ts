/**
 * The local mailbox (in the spirit of Mailpit): shows what the Worker's local `outbox` channel
 * "sent", so campaigns can be tried without a real email provider.
 */

type Message = {
  id: number;
  campaign: string;
  step: number;
  variant: string | null;
  channel: string;
  to: string;
  subject: string;
  html: string;
  text: string;
  status: string;
  created_at: string;
  sent_at: string | null;
};

// The demo secret key. Shipping a secret to the browser is only acceptable because this page is a
// local development tool talking to a local Worker; never do this with a real key.
const DEMO_SECRET_KEY = "sk_demo";
const REFRESH_MS = 3000;

const list = byId("messages");
const detail = byId("message-detail");
const empty = byId("mailbox-empty");
const errorBox = byId("mailbox-error");
const count = byId("mailbox-count");

let messages: Message[] = [];
let selectedId: number | null = null;
/** Fingerprint of what the detail pane shows, so polling does not reload the iframe needlessly. */
let shown = "";
let timer: ReturnType<typeof setTimeout> | undefined;
let loading = false;

function byId(id: string): HTMLElement | null {
  return document.getElementById(id);
}

function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, value);
  el.append(...children);
  return el;
}

// ---------------------------------------------------------------------------------------------
// Data

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const str = (value: unknown): string => (typeof value === "string" ? value : "");

/** Checks the shape instead of casting: a malformed row is skipped, not rendered half-broken. */
function parseMessage(raw: unknown): Message | null {
  if (!isRecord(raw) || typeof raw.id !== "number") return null;
  return {
    id: raw.id,
    campaign: str(raw.campaign),
    step: typeof raw.step === "number" ? raw.step : 0,
    variant: typeof raw.variant === "string" ? raw.variant : null,
    channel: str(raw.channel),
    to: str(raw.to),
    subject: str(raw.subject) || "(no subject)",
    html: str(raw.html),
    text: str(raw.text),
    status: str(raw.status),
    created_at: str(raw.created_at),
    sent_at: typeof raw.sent_at === "string" ? raw.sent_at : null,
  };
}

async function fetchMessages(): Promise<Message[]> {
  const response = await fetch("/v1/admin/outbox", {
    headers: { Authorization: `Bearer ${DEMO_SECRET_KEY}` },
    cache: "no-store",
  });
  if (!response.ok) throw new Error(`GET /v1/admin/outbox answered ${response.status} ${response.statusText}`);
  const body: unknown = await response.json();
  if (!isRecord(body) || !Array.isArray(body.messages)) throw new Error("Unexpected response from /v1/admin/outbox");
  return body.messages.flatMap((m) => parseMessage(m) ?? []);
}

// ---------------------------------------------------------------------------------------------
// Rendering

function formatTime(iso: string | null, full = false): string {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const today = date.toDateString() === new Date().toDateString();
  return date.toLocaleString(
    undefined,
    full || !today ? { dateStyle: "medium", timeStyle: "medium" } : { timeStyle: "medium" },
  );
}

function renderList(): void {
  if (!list) return;
  list.replaceChildren(
    ...messages.map((m) => {
      const item = h(
        "button",
        { type: "button", class: "message", "aria-current": String(m.id === selectedId) },
        h("span", { class: "message-subject" }, m.subject),
        h("span", { class: "message-meta" }, `To ${m.to}`),
        h("span", { class: "message-meta" }, `${m.campaign} · step ${m.step} · ${formatTime(m.created_at)}`),
      );
      item.addEventListener("click", () => {
        selectedId = m.id;
        renderList();
        renderDetail();
        // On narrow screens the detail pane sits below the list.
        if (matchMedia("(max-width: 47.99em)").matches) detail?.scrollIntoView({ behavior: "smooth" });
      });
      return h("li", {}, item);
    }),
  );
  if (empty) empty.hidden = messages.length > 0;
  if (count) count.textContent = `${messages.length} ${messages.length === 1 ? "message" : "messages"}`;
}

function renderDetail(): void {
  if (!detail) return;
  const message = messages.find((m) => m.id === selectedId);
  const fingerprint = message ? JSON.stringify(message) : "";
  if (fingerprint === shown) return;
  shown = fingerprint;
  if (!message) {
    detail.replaceChildren(
      h(
        "p",
        { class: "muted" },
        messages.length ? "Select a message to read it." : "Messages appear here when a campaign sends one.",
      ),
    );
    return;
  }
  const headers = h("dl", { class: "headers" });
  const rows: [string, string][] = [
    ["To", message.to],
    ["Campaign", `${message.campaign} (step ${message.step}${message.variant ? `, variant ${message.variant}` : ""})`],
    ["Channel", message.channel],
    ["Status", message.status],
    ["Created", formatTime(message.created_at, true)],
    ["Sent", formatTime(message.sent_at, true)],
  ];
  for (const [name, value] of rows) headers.append(h("dt", {}, name), h("dd", {}, value));

  // sandbox="" with no allowances: no scripts, no forms, no same-origin access to this page.
  const frame = h("iframe", { sandbox: "", title: `HTML part of “${message.subject}”`, class: "html-part" });
  frame.srcdoc = message.html || "<p style='font-family:sans-serif;color:#666'>(no HTML part)</p>";

  detail.replaceChildren(
    h("h2", { class: "detail-subject" }, message.subject),
    headers,
    h("h3", {}, "HTML"),
    frame,
    h("h3", {}, "Text"),
    h("pre", { class: "text-part" }, message.text || "(no text part)"),
  );
}

function showError(error: unknown): void {
  if (!errorBox) return;
  const text = error instanceof Error ? error.message : String(error);
  errorBox.textContent = `Could not load the outbox: ${text}`;
  errorBox.hidden = false;
}

// ---------------------------------------------------------------------------------------------
// Polling

async function refresh(): Promise<void> {
  // One request at a time, else overlapping refreshes would each schedule their own timer.
  if (loading) return;
  loading = true;
  clearTimeout(timer);
  try {
    messages = await fetchMessages();
    if (errorBox) errorBox.hidden = true;
    // Open the newest message by default; keep the reader's choice while it still exists.
    if (!messages.some((m) => m.id === selectedId)) selectedId = messages[0]?.id ?? null;
    renderList();
    renderDetail();
  } catch (error) {
    showError(error);
  } finally {
    loading = false;
    // Polling a hidden tab is wasted work; visibilitychange restarts it.
    if (!document.hidden) timer = setTimeout(refresh, REFRESH_MS);
  }
}

byId("refresh")?.addEventListener("click", () => void refresh());
document.addEventListener("visibilitychange", () => {
  if (!document.hidden) void refresh();
});
void refresh();
