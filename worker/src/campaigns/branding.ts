import * as v from "valibot";
import type { SiteSettings } from "../model/sites";

/**
 * The merchant's branding in every email (campaigns/messages.ts draws it): logo, button colour,
 * footer words and the postal address. Written through `PUT /v1/admin/branding`, stored in the
 * site's settings (model/sites.ts). "" clears a field back to Nudge's default.
 */

export const BRANDING_FIELDS = ["logoUrl", "brandColor", "postalAddress", "footerText"] as const;
export type Branding = Pick<SiteSettings, (typeof BRANDING_FIELDS)[number]>;

const LOGO = "must be an https address of an image (up to 500 characters), or empty.";
const COLOUR = 'must be a colour as #rrggbb, e.g. "#0f6e68", or empty.';
const ADDRESS = "must be a postal address of up to 6 lines and 300 characters, or empty.";
const FOOTER = "must be up to 3 lines and 500 characters, or empty.";

const upTo = (max: number, lines: number, message: string) =>
  v.pipe(
    v.string(message),
    v.maxLength(max, message),
    // Windows line ends and blank lines folded, so the footer is the lines the merchant meant.
    v.transform((s) =>
      s
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter(Boolean)
        .join("\n"),
    ),
    v.check((s) => s.split("\n").length <= lines, message),
  );

export const brandingSchema = v.strictObject(
  {
    // https only: a mail client loads it for every recipient, and plain http is blocked or flagged by most.
    logoUrl: v.optional(
      v.pipe(
        v.string(LOGO),
        v.trim(),
        v.maxLength(500, LOGO),
        v.check((s) => s === "" || (s.startsWith("https://") && URL.canParse(s)), LOGO),
      ),
    ),
    brandColor: v.optional(
      v.pipe(v.string(COLOUR), v.trim(), v.regex(/^(|#[0-9a-fA-F]{6})$/, COLOUR), v.toLowerCase()),
    ),
    postalAddress: v.optional(upTo(300, 6, ADDRESS)),
    footerText: v.optional(upTo(500, 3, FOOTER)),
  },
  `Send a JSON object with any of ${BRANDING_FIELDS.join(", ")}.`,
);

export const brandingOf = (s: SiteSettings): Branding => ({
  logoUrl: s.logoUrl,
  brandColor: s.brandColor,
  postalAddress: s.postalAddress,
  footerText: s.footerText,
});

/**
 * What the merchant should fix before sending marketing email. The mail still goes: transactional
 * messages need no address, and a store selling outside the US may not be bound by CAN-SPAM; but
 * every admin answer about email says so until the address is set.
 */
export const brandingWarnings = (b: Branding): string[] =>
  b.postalAddress
    ? []
    : [
        "No postal address: marketing email must carry a valid physical postal address (US CAN-SPAM Act) — set it under Settings (PUT /v1/admin/branding).",
      ];
