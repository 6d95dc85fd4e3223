import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Shown } from "../../sdk/triggers/index";
import type { OnsiteConfig, Widget } from "../../sdk/contract";
import type { Host } from "../../sdk/triggers/types";
import { show } from "../../sdk/widgets/index";

const host: Host = { endpoint: "https://nudge.example", key: "pk_test", aid: () => "aid-1", track: vi.fn() };
const coupon: Widget = { id: "exit", type: "coupon", priority: 1, offer: "10%", trigger: { on: "exit_intent" } };
const friend: Widget = { id: "share", type: "friend", priority: 1, trigger: { on: "click", selector: "[data-share]" } };
const callback: Widget = { id: "call", type: "callback", priority: 1, trigger: { on: "load" } };

/** The Worker's answers, keyed by path; records each request body. */
function server(answers: Record<string, [number, unknown]>) {
  const bodies: Record<string, Record<string, unknown>> = {};
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string, init: RequestInit) => {
      const path = new URL(url).pathname;
      bodies[path] = JSON.parse(String(init.body));
      const [status, body] = answers[path] ?? [404, {}];
      return new Response(JSON.stringify(body), { status });
    }),
  );
  return bodies;
}

const closers: (() => void)[] = [];
function open(widget: Widget, config: Partial<OnsiteConfig> = {}, launcher?: Element) {
  const done = vi.fn<Shown["done"]>();
  closers.push(show({ widget, config: { widgets: [widget], ...config }, host, launcher, done }));
  const el = document.querySelector("nudge-widget") as HTMLElement;
  const root = el.shadowRoot as ShadowRoot;
  return { el, root, done, $: <T extends Element = HTMLElement>(sel: string) => root.querySelector<T>(sel) };
}

const settle = () => new Promise((r) => setTimeout(r, 0));
const key = (target: Element, k: string, shiftKey = false) =>
  target.dispatchEvent(new KeyboardEvent("keydown", { key: k, shiftKey, bubbles: true, cancelable: true }));

beforeEach(() => {
  document.body.innerHTML = `<button id="launcher" data-share data-product-id="E7247" data-product-name="Speaker">Share</button>`;
  document.documentElement.lang = "en";
  localStorage.clear();
});
afterEach(() => {
  for (const close of closers.splice(0)) close();
  vi.unstubAllGlobals();
});

describe("exit-intent coupon", () => {
  it("should show the minted code in a labelled modal dialog and auto-apply it", async () => {
    const bodies = server({ "/v1/onsite/coupon": [200, { code: "ABCD-EFGH-JKMN-PQRS" }] });
    const applied = vi.fn();
    addEventListener("nudge:coupon", (e) => applied((e as CustomEvent).detail.code), { once: true });
    const { $ } = open(coupon, { theme: { "--nudge-accent": "#0f6e68" } });

    const dialog = $("[role=dialog]");
    expect(dialog?.getAttribute("aria-modal")).toBe("true");
    expect($(`#${dialog?.getAttribute("aria-labelledby")}`)?.textContent).toBe("Before you go: 10% off");
    expect($(`#${dialog?.getAttribute("aria-describedby")}`)?.textContent).toContain("already applied");
    await vi.waitFor(() => expect($("output")?.textContent).toBe("ABCD-EFGH-JKMN-PQRS"));
    expect(bodies["/v1/onsite/coupon"]).toMatchObject({ key: "pk_test", anonymousId: "aid-1", widget: "exit" });
    expect(localStorage.getItem("nudge:coupon")).toBe("ABCD-EFGH-JKMN-PQRS");
    expect(applied).toHaveBeenCalledWith("ABCD-EFGH-JKMN-PQRS");
  });

  it("should be themed by custom properties on its host element", () => {
    server({});
    const { el } = open(coupon, { theme: { "--nudge-accent": "#0f6e68" } });
    expect(el.style.getPropertyValue("--nudge-accent")).toBe("#0f6e68");
  });

  it("should show a clear error when the code cannot be minted", async () => {
    server({ "/v1/onsite/coupon": [429, { error: { code: "rate_limited", message: "Too many" } }] });
    const { $ } = open(coupon);
    await vi.waitFor(() =>
      expect($("[role=alert]")?.textContent).toBe("You've done that a few times already. Please try again later."),
    );
  });
});

describe("dialog behaviour", () => {
  it("should take focus, trap Tab inside, close on Escape and give focus back to the launcher", async () => {
    server({});
    const launcher = document.getElementById("launcher") as HTMLElement;
    launcher.focus();
    const { root, done, $ } = open(friend, {}, launcher);
    const dialog = $("[role=dialog]") as HTMLElement;
    expect(root.activeElement).toBe($("input[name=friendEmail]"));

    const focusable = [...dialog.querySelectorAll<HTMLElement>("button,input")];
    focusable.at(-1)?.focus();
    key(dialog, "Tab");
    expect(root.activeElement).toBe(focusable[0]);
    key(dialog, "Tab", true);
    expect(root.activeElement).toBe(focusable.at(-1));

    key(dialog, "Escape");
    expect(document.querySelector("nudge-widget")).toBeNull();
    expect(document.activeElement).toBe(launcher);
    expect(done).toHaveBeenCalledWith("dismissed");
    expect(host.track).toHaveBeenCalledWith("Widget Dismissed", { widget_id: "share", widget_type: "friend" });
  });

  it("should close when the backdrop is clicked, not when the dialog is", () => {
    server({});
    const { $, done } = open(callback);
    ($("[role=dialog]") as HTMLElement).click();
    expect(done).not.toHaveBeenCalled();
    ($(".backdrop") as HTMLElement).click();
    expect(done).toHaveBeenCalledWith("dismissed");
  });
});

describe("send to friend", () => {
  it("should check the fields before sending and mark what is wrong", async () => {
    const bodies = server({});
    const { root, $ } = open(friend);
    ($("input[name=friendEmail]") as HTMLInputElement).value = "not an email";
    ($("form") as HTMLFormElement).requestSubmit();
    await settle();
    expect(bodies["/v1/onsite/friend"]).toBeUndefined(); // (the share links asked for the referral link)
    const email = $("input[name=friendEmail]");
    expect(email?.getAttribute("aria-invalid")).toBe("true");
    expect($(`#${email?.getAttribute("aria-describedby")}`)?.textContent).toContain("valid email");
    expect($("input[name=consent]")?.getAttribute("aria-invalid")).toBe("true");
    expect(root.activeElement).toBe(email);
  });

  it("should send the product from the launcher, the consent wording and a request id", async () => {
    const bodies = server({ "/v1/onsite/friend": [200, { ok: true }] });
    const { $, done } = open(friend, {}, document.getElementById("launcher") as Element);
    ($("input[name=friendEmail]") as HTMLInputElement).value = "bob@example.com";
    ($("input[name=senderName]") as HTMLInputElement).value = "Ada";
    ($("input[name=consent]") as HTMLInputElement).checked = true;
    ($("form") as HTMLFormElement).requestSubmit();
    await vi.waitFor(() => expect($("[role=status]")?.textContent).toBe("Sent. Thanks for sharing!"));
    expect(bodies["/v1/onsite/friend"]).toMatchObject({
      friendEmail: "bob@example.com",
      senderName: "Ada",
      consent: true,
      consentText: "My friend knows me and is happy to get one email about this.",
      productId: "E7247",
      productName: "Speaker",
      requestId: expect.any(String),
    });
    key($("[role=dialog]") as Element, "Escape");
    expect(done).toHaveBeenCalledWith("converted");
  });
});

describe("share links", () => {
  const hrefs = ($: (sel: string) => HTMLElement | null) =>
    ["WhatsApp", "Telegram", "Facebook", "X"].map((name) => {
      const a = [...($(".share")?.querySelectorAll("a") ?? [])].find((x) => x.textContent === name);
      return a?.getAttribute("href") ?? "";
    });

  it("should carry a customer's referral code to each network, encoded, in a new tab", async () => {
    history.replaceState(null, "", '/product?id=E7247&x=<b>"&');
    const bodies = server({ "/v1/onsite/referral": [200, { code: "REF-ABCD-EFGH", url: "https://shop/?ref=x" }] });
    const { $ } = open(friend);
    await vi.waitFor(() => expect(($("#nudge-share-link") as HTMLInputElement).value).toContain("ref=REF-ABCD-EFGH"));
    const link = ($("#nudge-share-link") as HTMLInputElement).value;
    expect(new URL(link).searchParams.get("x")).toBe('<b>"'); // the page's own query kept, as data
    expect(bodies["/v1/onsite/referral"]).toMatchObject({ key: "pk_test", anonymousId: "aid-1" });
    const [whatsapp, telegram, facebook, x] = hrefs($);
    expect(whatsapp).toBe(`https://wa.me/?text=I%20think%20you'll%20like%20this%20${encodeURIComponent(link)}`);
    expect(telegram).toBe(
      `https://t.me/share/url?url=${encodeURIComponent(link)}&text=I%20think%20you'll%20like%20this`,
    );
    expect(facebook).toBe(`https://www.facebook.com/sharer/sharer.php?u=${encodeURIComponent(link)}`);
    expect(x).toBe(`https://x.com/intent/post?url=${encodeURIComponent(link)}&text=I%20think%20you'll%20like%20this`);
    for (const a of $(".share")?.querySelectorAll("a") ?? []) {
      expect(a.getAttribute("target")).toBe("_blank");
      expect(a.getAttribute("rel")).toBe("noopener noreferrer");
    }
    expect($("section")?.textContent).toContain("you get a reward");
  });

  it("should share the plain page when the visitor is not a customer, and copy the link", async () => {
    history.replaceState(null, "", "/product?id=E7247");
    server({ "/v1/onsite/referral": [403, { error: { code: "not_customer", message: "no" } }] });
    const writeText = vi.fn(async () => {});
    vi.stubGlobal("navigator", { ...navigator, clipboard: { writeText } });
    const { $ } = open(friend);
    await settle();
    await settle();
    expect(($("#nudge-share-link") as HTMLInputElement).value).toBe(location.href);
    expect($("section")?.textContent).not.toContain("reward");
    const copy = [...($("section")?.querySelectorAll("button") ?? [])].find((b) => b.textContent === "Copy link");
    copy?.click();
    await vi.waitFor(() => expect(copy?.textContent).toBe("Copied"));
    expect(writeText).toHaveBeenCalledWith(location.href);
  });
});

describe("callback request, localised", () => {
  it("should speak the page's language and use the merchant's own wording", () => {
    server({});
    document.documentElement.lang = "fr-FR";
    const { $ } = open(callback, { text: { fr: { callback_title: "On vous rappelle" } } });
    expect($("h2")?.textContent).toBe("On vous rappelle");
    expect($("button[type=submit]")?.textContent).toBe("Rappelez-moi");
  });

  it("should speak Russian, and fall back to the site's locale for a language it does not know", () => {
    server({});
    document.documentElement.lang = "ru";
    expect(open(callback).$("h2")?.textContent).toBe("Заказать обратный звонок");
    closers.pop()?.();
    document.documentElement.lang = "de";
    expect(open(callback, { locale: "fr" }).$("h2")?.textContent).toBe("Être rappelé");
  });

  it("should speak the browser's language on a page that names none, with the merchant's French words", () => {
    server({});
    document.documentElement.lang = "";
    const languages = vi.spyOn(navigator, "languages", "get").mockReturnValue(["de-DE", "fr-CA", "en"]);
    try {
      const { $ } = open(callback, { locale: "ru", text: { fr: { callback_title: "Un conseiller vous rappelle" } } });
      expect($("h2")?.textContent).toBe("Un conseiller vous rappelle");
      expect($("button[type=submit]")?.textContent).toBe("Rappelez-moi");
    } finally {
      languages.mockRestore();
    }
  });

  it("should refuse a phone number without its country code, and show the server's verdict", async () => {
    const bodies = server({
      "/v1/onsite/callback": [400, { error: { code: "invalid_phone", field: "phone", message: "bad" } }],
    });
    const { $ } = open(callback);
    ($("input[name=phone]") as HTMLInputElement).value = "020 7946 0958";
    ($("input[name=consent]") as HTMLInputElement).checked = true;
    ($("form") as HTMLFormElement).requestSubmit();
    await settle();
    expect(bodies["/v1/onsite/friend"]).toBeUndefined(); // (the share links asked for the referral link)
    expect($("#nudge-callback-phone-err")?.textContent).toContain("country code");

    ($("input[name=phone]") as HTMLInputElement).value = "+44 20 7946 0958";
    ($("form") as HTMLFormElement).requestSubmit();
    await vi.waitFor(() =>
      expect(bodies["/v1/onsite/callback"]).toMatchObject({ phone: "+44 20 7946 0958", window: "asap" }),
    );
    await settle();
    expect($("#nudge-callback-phone-err")?.textContent).toContain("country code");
  });
});

describe("cart reminder bar", () => {
  it("should be a labelled, non-modal region linking to the cart, closed by Escape", async () => {
    server({});
    const { $, done } = open({
      id: "cart",
      type: "cart_reminder",
      priority: 0,
      trigger: { on: "load" },
      link: "/basket",
    });
    expect($("[role=dialog]")).toBeNull();
    expect($("section")?.getAttribute("aria-label")).toBe("Welcome back! Your cart is waiting for you.");
    expect($("a")?.getAttribute("href")).toBe("/basket");
    await new Promise((r) => setTimeout(r, 50)); // effects run after paint
    document.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
    expect(done).toHaveBeenCalledWith("dismissed");
  });
});

describe("newsletter", () => {
  it("should post the email and consent to the newsletter endpoint and thank the shopper", async () => {
    const bodies = server({ "/v1/onsite/newsletter": [200, { ok: true }] });
    const { $ } = open({ id: "news", type: "newsletter", priority: 0, trigger: { on: "load" } });
    ($("input[name=email]") as HTMLInputElement).value = "nina@example.com";
    ($("input[name=consent]") as HTMLInputElement).checked = true;
    ($("form") as HTMLFormElement).requestSubmit();
    await vi.waitFor(() => expect($("[role=status]")?.textContent).toContain("You're subscribed"));
    expect(bodies["/v1/onsite/newsletter"]).toMatchObject({ email: "nina@example.com", consent: true });
  });
});

describe("copying the code", () => {
  it("should copy with the clipboard API, and select the code where there is none", async () => {
    server({ "/v1/onsite/coupon": [200, { code: "ABCD-EFGH-JKMN-PQRS" }] });
    const writeText = vi.fn(async () => {});
    vi.stubGlobal("navigator", { ...navigator, clipboard: { writeText } });
    const first = open(coupon);
    await vi.waitFor(() => expect(first.$("output")).not.toBeNull());
    (first.$(".code button") as HTMLElement).click();
    expect(writeText).toHaveBeenCalledWith("ABCD-EFGH-JKMN-PQRS");
    await vi.waitFor(() => expect(first.$(".code button")?.textContent).toBe("Copied"));
    closers.pop()?.();

    vi.stubGlobal("navigator", { ...navigator, clipboard: undefined });
    const second = open(coupon);
    await vi.waitFor(() => expect(second.$("output")).not.toBeNull());
    (second.$(".code button") as HTMLElement).click();
    expect(getSelection()?.toString()).toBe("ABCD-EFGH-JKMN-PQRS");
  });
});

describe("server errors the widget has no words for", () => {
  it("should show the server's message for an unknown error code, and a generic one for a coupon", async () => {
    server({
      "/v1/onsite/newsletter": [403, { error: { code: "origin_not_allowed", message: "Origin x is not allowed." } }],
      "/v1/onsite/coupon": [404, { error: { code: "unknown_widget", message: "No coupon widget." } }],
    });
    const news = open({ id: "news", type: "newsletter", priority: 0, trigger: { on: "load" } });
    (news.$("input[name=email]") as HTMLInputElement).value = "nina@example.com";
    (news.$("input[name=consent]") as HTMLInputElement).checked = true;
    (news.$("form") as HTMLFormElement).requestSubmit();
    await vi.waitFor(() => expect(news.$("[role=alert]")?.textContent).toBe("Origin x is not allowed."));
    closers.pop()?.();
    const exit = open(coupon);
    await vi.waitFor(() => expect(exit.$("[role=alert]")?.textContent).toBe("Something went wrong. Please try again."));
  });
});
