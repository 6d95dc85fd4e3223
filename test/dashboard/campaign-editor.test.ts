import { h, render } from "preact";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CampaignEditor } from "../../dashboard/pages/campaign-editor";

/**
 * The step editor in happy-dom against a stand-in API: what it sends on save is what the merchant
 * changed, and nothing else — fields it does not know (a branching step's `if`, `waitUntil`) included.
 */

const branching = {
  delayMs: 3600_000,
  channel: "email",
  template: "welcome",
  if: { segment: { open_cart: true } },
  waitUntil: { event: "Order Completed", within: "2d" },
};
const stored = {
  id: "c1",
  name: "Branching",
  trigger: { type: "event", events: ["Signed Up"], journey: "{message_id}", reset: false },
  steps: [branching],
  exit: { ordered: true, events: [] },
  holdoutPercent: 0,
};

function standIn() {
  const saved: unknown[] = [];
  const answer = (body: unknown) =>
    new Response(JSON.stringify(body), { headers: { "content-type": "application/json" } });
  vi.stubGlobal(
    "fetch",
    vi.fn(async (path: string, init: RequestInit) => {
      if (path === "/v1/admin/campaigns/c1" && init.method === "PUT") {
        const body = JSON.parse(String(init.body));
        saved.push(body);
        return answer({ campaign: body, enabled: true, warnings: [] });
      }
      if (path === "/v1/admin/campaigns/c1") return answer({ campaign: stored, enabled: true });
      if (path === "/v1/admin/campaigns/messages")
        return answer({ messages: [{ id: "welcome", copy: { en: { subject: "Welcome to {store}" } } }] });
      if (path === "/v1/admin/promotions") return answer({ promotions: [{ id: "welcome-10" }] });
      // The preview never answers here: happy-dom cannot load the email's frame, and this test is about saving.
      if (path === "/v1/admin/campaigns/preview") return new Promise<Response>(() => {});
      return new Response("{}", { status: 404 });
    }),
  );
  return saved;
}

/** Preact renders after the event's task, as between a person's keystrokes. */
const rendered = () => new Promise((resolve) => setTimeout(resolve, 0));
const type = async (el: Element | null, value: string) => {
  if (!(el instanceof HTMLInputElement)) throw new Error("no such input");
  el.value = value;
  el.dispatchEvent(new Event("input", { bubbles: true }));
  await rendered();
};
const button = (root: HTMLElement, text: string) =>
  [...root.querySelectorAll("button")].find((b) => b.textContent === text || b.getAttribute("aria-label") === text);

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("campaign step editor", () => {
  it("should keep step fields it does not know through edits, reordering and save, and show them", async () => {
    const saved = standIn();
    const root = document.createElement("div");
    document.body.append(root);
    render(h(CampaignEditor, { id: "c1" }), root);
    await vi.waitFor(() => expect(root.querySelector("#s0-subject")).not.toBeNull());
    expect(root.querySelector("summary")?.textContent).toBe("Other settings kept as they are: if, waitUntil");

    await type(root.querySelector("#s0-subject"), "Hello from {store}");
    await type(root.querySelector("#s0-delay"), "2");
    button(root, "Add a step")?.click();
    await rendered();
    button(root, "Move step 2 up")?.click();
    await rendered();
    expect((root.querySelector("#s1-subject") as HTMLInputElement).value).toBe("Hello from {store}");
    root.querySelector("form")?.dispatchEvent(new Event("submit", { bubbles: true, cancelable: true }));
    await vi.waitFor(() => expect(saved).toHaveLength(1));

    const { steps } = saved[0] as { steps: Record<string, unknown>[] };
    expect(steps).toHaveLength(2);
    expect(steps[0]).toEqual({ delayMs: 86400_000, channel: "email", template: "welcome" });
    expect(steps[1]).toEqual({ ...branching, delayMs: 2 * 3600_000, subject: "Hello from {store}" });
    render(null, root);
    root.remove();
  });
});
