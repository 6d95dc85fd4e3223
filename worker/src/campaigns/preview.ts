import * as v from "valibot";
import { onSite, siteHosts } from "../lib/hosts";
import type { CartLine } from "../model/carts";
import type { Site } from "../model/sites";
import { type Branding, brandingSchema, brandingWarnings, brandingOf } from "./branding";
import { copySchema } from "./definition";
import {
  LOCALES,
  MESSAGE_TEMPLATES,
  type MessageContext,
  type Product,
  renderCallScript,
  renderMessage,
  renderSms,
} from "./messages";

/**
 * A step as the shopper would get it, drawn by the real renderers (messages.ts) with sample data
 * from the site's own catalogue: the dashboard's live preview of an email, an SMS and a call script.
 * Nothing is stored or sent, and no link in it is signed: they all lead to the store.
 */

const TEMPLATES = `must be a message template (${[...MESSAGE_TEMPLATES.keys()].join(", ")}).`;

export const previewSchema = v.strictObject(
  {
    template: v.pipe(
      v.string(TEMPLATES),
      v.check((t) => MESSAGE_TEMPLATES.has(t), TEMPLATES),
    ),
    locale: v.optional(v.picklist(LOCALES, `must be one of ${LOCALES.join(", ")}.`), "en"),
    /** The step's subject for every locale (or a variant's); `content.subject` is this locale's. */
    subject: v.optional(v.pipe(v.string(), v.maxLength(200, "must be at most 200 characters."))),
    content: v.optional(copySchema),
    /** Show a sample coupon code, as a coupon step would. */
    coupon: v.optional(v.boolean("must be true or false."), false),
    /** Unsaved branding from the settings page, over the site's. */
    branding: v.optional(brandingSchema),
  },
  "Send { template, locale?, subject?, content?, coupon?, branding? }.",
);
export type PreviewInput = v.InferOutput<typeof previewSchema>;

export interface Preview {
  subject: string;
  html: string;
  text: string;
  sms: { text: string; characters: number; encoding: "GSM-7" | "UCS-2"; segments: number };
  call: { script: string };
  warnings: string[];
}

// The GSM 03.38 basic set and its extension (each extension character takes two septets).
const GSM = /^[@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&'()*+,\-./0-9:;<=>?¡A-ZÄÖÑÜ§¿a-zäöñüà^{}\\[~\]|€]*$/;

/**
 * How many messages an SMS is billed as: 160 GSM-7 characters in one (153 per part when split), or
 * 70 UCS-2 ones (67 per part) as soon as one character — a Cyrillic letter, an emoji — is outside GSM-7.
 */
export function smsSegments(text: string): Preview["sms"] {
  if (GSM.test(text)) {
    const septets = [...text].reduce((n, ch) => n + ("^{}\\[~]|€".includes(ch) ? 2 : 1), 0);
    return { text, characters: septets, encoding: "GSM-7", segments: septets <= 160 ? 1 : Math.ceil(septets / 153) };
  }
  // UCS-2 counts UTF-16 code units: an emoji is two.
  const units = text.length;
  return { text, characters: units, encoding: "UCS-2", segments: units <= 70 ? 1 : Math.ceil(units / 67) };
}

/** Up to three of the merchant's products (a browser-described row only with the store's own links). */
async function sampleProducts(db: D1Database, site: Site): Promise<Product[]> {
  const { results } = await db
    .prepare(
      `SELECT product_id AS productId, name, price, url, image_url AS imageUrl, merchant FROM products
       WHERE site_id = ? ORDER BY merchant DESC, updated_at DESC LIMIT 3`,
    )
    .bind(site.id)
    .all<Omit<Product, "merchant"> & { merchant: number }>();
  const hosts = siteHosts(site);
  const rows = (results ?? []).map(
    (p): Product =>
      p.merchant === 1
        ? { ...p, merchant: true }
        : { ...p, merchant: false, url: onSite(p.url, hosts), imageUrl: onSite(p.imageUrl, hosts) },
  );
  // A new site has no catalogue yet: a made-up product shows the layout.
  return rows.length > 0
    ? rows
    : [{ productId: "sample", name: "Sample product", price: 2500, url: null, imageUrl: null }];
}

export async function previewMessage(db: D1Database, site: Site, input: PreviewInput): Promise<Preview> {
  const template = MESSAGE_TEMPLATES.get(input.template);
  if (!template) throw new Error(`no template ${input.template}`); // the schema checked it
  const branding: Branding = { ...brandingOf(site.settings), ...input.branding };
  const products = await sampleProducts(db, site);
  const lines: CartLine[] = products.slice(0, 2).map((p, i) => ({ ...p, quantity: i + 1 }));
  const ctx: MessageContext = {
    site: { ...site, settings: { ...site.settings, ...branding } },
    locale: input.locale,
    name: "Alex",
    lines: template.block === "cart" ? lines : [],
    products:
      template.block === "cart" || template.block === "none"
        ? []
        : products.slice(0, template.block === "related" ? 3 : 1),
    basis: null,
    showcase: null,
    coupon: input.coupon ? "SAMPLE-7Q4K" : null,
    couponScope: null,
    sender: "Sam",
    window: "afternoon",
    links: { cta: site.url, unsubscribe: site.url, open: "data:," },
    ...(input.content ? { content: input.content } : {}),
  };
  const subject = input.content?.subject ?? input.subject;
  if (subject) ctx.subject = subject;
  const email = await renderMessage(template, ctx);
  return {
    ...email,
    sms: smsSegments(renderSms(template, ctx)),
    call: { script: renderCallScript(template, ctx) },
    warnings: brandingWarnings(branding),
  };
}
