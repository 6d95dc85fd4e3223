import { SELF } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { createSite } from "../../worker/src/model/sites";
import { smsSegments } from "../../worker/src/campaigns/preview";
import { advance, BASE, mailbox, putCampaign, send, uid } from "./helpers";

/** Issue 18: the merchant's branding in every email, and content blocks per locale, with a preview. */

const AUTH = { authorization: "Bearer sk_brand" };

const call = (method: string, path: string, body?: unknown, auth = AUTH) =>
  SELF.fetch(`${BASE}/v1/admin${path}`, {
    method,
    headers: { "content-type": "application/json", ...auth },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

interface Preview {
  subject: string;
  html: string;
  text: string;
  sms: { text: string; encoding: string; segments: number };
  call: { script: string };
  warnings: string[];
}

beforeAll(async () => {
  await createSite(
    env,
    { id: "brand", name: "Brand & Co", url: "https://brand.example", publicKey: "pk_brand", secretKey: "sk_brand" },
    Date.now(),
  );
});

describe("merchant branding", () => {
  it("should store branding, warn until there is a postal address, and refuse what mail cannot carry", async () => {
    const empty = await (await call("GET", "/branding")).json<{ branding: unknown; warnings: string[] }>();
    expect(empty.branding).toEqual({ logoUrl: "", brandColor: "", postalAddress: "", footerText: "" });
    expect(empty.warnings.join()).toMatch(/postal address.*CAN-SPAM/);

    for (const [body, field, message] of [
      [{ logoUrl: "http://brand.example/logo.png" }, "branding.logoUrl", /https/],
      [{ logoUrl: "javascript:alert(1)" }, "branding.logoUrl", /https/],
      [{ brandColor: "red" }, "branding.brandColor", /#rrggbb/],
      [{ brandColor: "#12345" }, "branding.brandColor", /#rrggbb/],
      [{ postalAddress: "x".repeat(301) }, "branding.postalAddress", /300 characters/],
      [{ footerText: "a\nb\nc\nd" }, "branding.footerText", /3 lines/],
      [{ logo: "https://brand.example/logo.png" }, "branding.logo", /not a known field/],
    ] as const) {
      const res = await call("PUT", "/branding", body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      const { error } = await res.json<{ error: { field: string; message: string } }>();
      expect(error.field).toBe(field);
      expect(error.message).toMatch(message);
    }

    const res = await call("PUT", "/branding", {
      logoUrl: "https://brand.example/logo.png",
      brandColor: "#FFD400",
      postalAddress: "Brand & Co\r\n 2 Market Row \n\nLeeds LS1 1AA",
    });
    expect(res.status).toBe(200);
    const saved = await res.json<{ branding: Record<string, string>; warnings: string[] }>();
    expect(saved).toEqual({
      branding: {
        logoUrl: "https://brand.example/logo.png",
        brandColor: "#ffd400",
        postalAddress: "Brand & Co\n2 Market Row\nLeeds LS1 1AA",
        footerText: "",
      },
      warnings: [],
    });
    // A field left out keeps its value; "" clears one.
    await call("PUT", "/branding", { logoUrl: "" });
    const after = await (await call("GET", "/branding")).json<{ branding: Record<string, string> }>();
    expect(after.branding).toMatchObject({ logoUrl: "", brandColor: "#ffd400" });
  });

  it("should warn on saving an email campaign while the site has no postal address", async () => {
    await call("PUT", "/branding", { postalAddress: "" });
    const campaign = { trigger: { type: "cart" }, steps: [{ delay: "1h", template: "cart_reminder" }] };
    const res = await call("PUT", "/campaigns/brand-cart", campaign);
    expect(res.status).toBe(200);
    expect((await res.json<{ warnings: string[] }>()).warnings.join()).toMatch(/postal address/);
    await call("PUT", "/branding", { postalAddress: "2 Market Row, Leeds LS1 1AA" });
    expect(
      (await (await call("PUT", "/campaigns/brand-cart", campaign)).json<{ warnings: string[] }>()).warnings,
    ).toEqual([]);
  });
});

describe("message preview", () => {
  it("should draw a step's email, SMS and call script with the site's branding and the merchant's words", async () => {
    await call("PUT", "/branding", {
      brandColor: "#ffd400",
      logoUrl: "https://brand.example/logo.png",
      footerText: "",
    });
    const res = await call("POST", "/campaigns/preview", {
      template: "cart_reminder",
      locale: "fr",
      content: { intro: "Votre panier chez {store} est encore là, {name}.", cta: "J'y retourne" },
      coupon: true,
    });
    expect(res.status).toBe(200);
    const p = await res.json<Preview>();
    // Built-in French subject, the merchant's intro and button, escaped (& of the store's name).
    expect(p.subject).toBe("Vous avez oublié 1 article dans votre panier");
    expect(p.html).toContain("Votre panier chez Brand &amp; Co est encore là, Alex.");
    expect(p.html).toContain("J&#39;y retourne");
    // The brand colour on the button, with dark words on a pale yellow; the logo; the address.
    expect(p.html).toMatch(/background:#ffd400;color:#111/);
    expect(p.html).toContain('<img src="https://brand.example/logo.png" alt="Brand &amp; Co"');
    expect(p.html).toContain("2 Market Row, Leeds LS1 1AA");
    expect(p.text).toContain("Votre code: SAMPLE-7Q4K");
    expect(p.sms.text).toMatch(
      /^Votre panier chez Brand & Co est encore là, Alex\. Votre code: SAMPLE-7Q4K https:\/\/brand/,
    );
    expect(p.sms).toMatchObject({ encoding: "GSM-7", segments: 1 });
    expect(p.call.script).toContain("S A M P L E");
    expect(p.warnings).toEqual([]);

    // Unsaved branding from the settings page wins over the stored one.
    const draft = await (
      await call("POST", "/campaigns/preview", { template: "welcome", branding: { brandColor: "#123456" } })
    ).json<Preview>();
    expect(draft.html).toMatch(/background:#123456;color:#fff/);

    // Russian is outside GSM-7: the SMS is billed as UCS-2 parts of 67.
    const ru = await (await call("POST", "/campaigns/preview", { template: "cart_sms", locale: "ru" })).json<Preview>();
    expect(ru.sms.encoding).toBe("UCS-2");
  });

  it("should refuse unknown placeholders, over-long words and unknown templates by name", async () => {
    for (const [body, field] of [
      [{ template: "cart_reminder", content: { intro: "Hi {nme}" } }, "content.intro"],
      [{ template: "cart_reminder", content: { cta: "x".repeat(61) } }, "content.cta"],
      [{ template: "cart_reminder", content: { subject: "two\nlines" } }, "content.subject"],
      [{ template: "nope" }, "template"],
      [{ template: "welcome", locale: "de" }, "locale"],
      [{ template: "welcome", colour: "#fff" }, "colour"],
    ] as const) {
      const res = await call("POST", "/campaigns/preview", body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect((await res.json<{ error: { field: string } }>()).error.field).toBe(field);
    }
    const bad = await call("PUT", "/campaigns/brand-words", {
      trigger: { type: "cart" },
      steps: [{ template: "cart_reminder", content: { fr: { intro: "Bonjour {prenom}" } } }],
    });
    expect(bad.status).toBe(400);
    expect((await bad.json<{ error: { message: string } }>()).error.message).toBe(
      "campaign.steps[0].content.fr.intro must use only the placeholders {name} {store} {items} {order} {status} {link} {product} {sender} {window}.",
    );
  });

  it("should serve the email preview as a page that may style itself but never run anything", async () => {
    const q = encodeURIComponent(JSON.stringify({ template: "welcome", locale: "en" }));
    const res = await SELF.fetch(`${BASE}/v1/admin/campaigns/preview/email?q=${q}`, { headers: AUTH });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("sandbox");
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain("script-src");
    expect(await res.text()).toContain("Thank you for subscribing.");
    const broken = await SELF.fetch(`${BASE}/v1/admin/campaigns/preview/email?q=%7B`, { headers: AUTH });
    expect(broken.status).toBe(400);
  });

  it("should count SMS segments as carriers bill them", () => {
    expect(smsSegments("a".repeat(160))).toMatchObject({ encoding: "GSM-7", segments: 1 });
    expect(smsSegments("a".repeat(161))).toMatchObject({ encoding: "GSM-7", segments: 2 });
    // € takes two septets: 80 of them fill one message.
    expect(smsSegments("€".repeat(80))).toMatchObject({ characters: 160, segments: 1 });
    expect(smsSegments("я".repeat(70))).toMatchObject({ encoding: "UCS-2", segments: 1 });
    expect(smsSegments("я".repeat(71))).toMatchObject({ encoding: "UCS-2", segments: 2 });
  });
});

describe("a sent email", () => {
  it("should carry the demo's branding and the step's words in the contact's locale", async () => {
    const fr = `${uid("brand-fr")}@example.com`;
    const en = `${uid("brand-en")}@example.com`;
    await putCampaign("brand_words", {
      trigger: { type: "event", events: ["Brand Words"] },
      steps: [
        {
          delay: "1h",
          template: "welcome",
          content: { fr: { subject: "Pour vous, {name}", intro: "Un mot de {store} rien que pour vous." } },
        },
      ],
    });
    for (const [email, locale] of [
      [fr, "fr-FR"],
      [en, "en-GB"],
    ] as const) {
      const anonymousId = uid("anon");
      await send([
        { type: "identify", anonymousId, traits: { email, name: "Zoé", locale } },
        { type: "track", anonymousId, event: "Brand Words", properties: {} },
      ]);
    }
    await advance(2 * 3600_000);
    const [toFr] = await mailbox(fr, "brand_words");
    const [toEn] = await mailbox(en, "brand_words");
    expect(toFr?.subject).toBe("Pour vous, Zoé");
    expect(toFr?.html).toContain("Un mot de Wavelength rien que pour vous.");
    // The English contact gets the template's words: the override was for French only.
    expect(toEn?.subject).toBe("Welcome to Wavelength");
    for (const m of [toFr, toEn]) {
      // The demo's seeded branding: its colour on the button and its postal address in the footer.
      expect(m?.html).toContain("background:#0f6e68;color:#fff");
      expect(m?.html).toContain("1 Example Street<br>London N1 9XX");
      expect(m?.text).toContain("Wavelength Audio Ltd\n1 Example Street");
    }
  });
});
