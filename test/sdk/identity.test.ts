import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { _resetForTests, consent, flush, identify, init, reset, track } from "../../sdk/client";
import { onsiteChunk } from "../../sdk/onsite";
import { fakeServer, freshPage } from "./helpers";

beforeEach(freshPage);
afterEach(() => {
  vi.restoreAllMocks();
  document.body.innerHTML = "";
});

const ENDPOINT = "https://nudge.example";
const userHashOf = (e: Record<string, unknown> | undefined) =>
  (e?.context as { nudge?: { userHash?: string } } | undefined)?.nudge?.userHash;

describe("identity verification", () => {
  it("should carry the merchant's user hash on every later event, across reloads, until reset", async () => {
    const server = fakeServer(200);
    init({ key: "pk_test", endpoint: ENDPOINT, trackPages: false });
    track("Before");
    identify("user-42", { email: "ada@example.com" }, { userHash: "a1b2c3" });
    track("After");
    await flush();
    const [before, id, after] = server.events();
    expect(userHashOf(before)).toBeUndefined();
    expect(id).toMatchObject({ type: "identify", userId: "user-42", traits: { email: "ada@example.com" } });
    expect(userHashOf(id)).toBe("a1b2c3");
    expect(userHashOf(after)).toBe("a1b2c3");
    // The hash is not a trait: it must not end up on the contact's profile.
    expect(id?.traits).not.toHaveProperty("userHash");

    _resetForTests();
    const next = fakeServer(200);
    init({ key: "pk_test", endpoint: ENDPOINT, trackPages: false });
    track("Next page");
    reset();
    track("Logged out");
    await flush();
    const [nextPage, loggedOut] = next.events();
    expect(nextPage).toMatchObject({ userId: "user-42" });
    expect(userHashOf(nextPage)).toBe("a1b2c3");
    expect(loggedOut?.userId).toBeUndefined();
    expect(userHashOf(loggedOut)).toBeUndefined();
    expect(loggedOut?.anonymousId).not.toBe(nextPage?.anonymousId);
  });

  it("should take the options second when identifying by traits, as analytics.js does", async () => {
    const server = fakeServer(200);
    init({ key: "pk_test", endpoint: ENDPOINT, trackPages: false });
    identify({ email: "ada@example.com" }, { userHash: "e5f6" });
    await flush();
    expect(userHashOf(server.events()[0])).toBe("e5f6");
    expect(server.events()[0]?.traits).toEqual({ email: "ada@example.com" });
  });
});

describe("email capture", () => {
  const type = (selector: string, value: string) => {
    const input = document.querySelector(selector) as HTMLInputElement;
    input.value = value;
    input.dispatchEvent(new Event("change", { bubbles: true }));
  };

  beforeEach(() => {
    document.body.innerHTML = `
      <form id="checkout-form"><input id="co" type="email" autocomplete="email"></form>
      <div data-nudge-capture><input id="nl" type="email"></div>
      <form id="login"><input id="li" type="email"></form>
      <form id="newsletter"><input id="name" type="text"></form>`;
  });

  it("should identify by an email typed into checkout or newsletter fields once marketing consent is given", async () => {
    const server = fakeServer(200);
    // The capture code rides in the onsite chunk, loaded by URL in a browser.
    const load = vi.spyOn(onsiteChunk, "load").mockImplementation(() => import("../../sdk/triggers/index"));
    vi.spyOn(console, "warn").mockImplementation(() => {});
    init({ key: "pk_test", endpoint: ENDPOINT, trackPages: false, captureEmails: true });
    await flush();
    expect(load).toHaveBeenCalledWith(`${ENDPOINT}/sdk/onsite.js`);
    await load.mock.results[0]?.value;
    type("#co", "before@example.com"); // no consent yet
    consent({ marketing: true });
    type("#co", " Ada@Example.com ");
    type("#co", "ada@example.com"); // same email: identified once
    type("#nl", "not-an-email");
    type("#nl", "bob@example.com");
    type("#li", "login@example.com"); // a login form: never read
    type("#name", "name@example.com"); // not an email field
    await flush();
    const identified = server.events().filter((e) => e.type === "identify");
    expect(identified.map((e) => (e.traits as { email: string }).email)).toEqual([
      "ada@example.com",
      "bob@example.com",
    ]);
  });

  it("should read nothing without the captureEmails option", async () => {
    const server = fakeServer(200);
    const load = vi.spyOn(onsiteChunk, "load");
    init({ key: "pk_test", endpoint: ENDPOINT, trackPages: false });
    await flush();
    expect(load).not.toHaveBeenCalled();
    consent({ marketing: true });
    type("#co", "ada@example.com");
    await flush();
    expect(server.events().filter((e) => e.type === "identify")).toEqual([]);
  });
});
