/**
 * Phone numbers that may cost the merchant money: which country a number belongs to, and whether
 * a site sends to it. SMS pumping lives on ranges the sender pays a share of to the terminating
 * network — international "global services" codes and premium/personal-number ranges — so those
 * are never allowed, whatever a site's allow-list says; everything else must be in one of the
 * site's countries (default: the site's own, see `siteCountry`).
 */

/** E.164: a plus, a country code that does not start with 0, at most 15 digits in all. */
const E164 = /^\+[1-9]\d{6,14}$/;

/** The number in E.164 with spaces, dots, dashes and brackets removed, or null. */
export function normalisePhone(raw: unknown): string | null {
  if (typeof raw !== "string" || raw.length > 32) return null;
  const p = raw.replace(/[\s().-]/g, "");
  return E164.test(p) ? p : null;
}

/**
 * Never texted or called. +881 satellite, +882/+883 international networks, +870 Inmarsat, +878
 * personal, +979 international premium rate, +800/+808 international freephone; +4487/+449 UK
 * premium and +4470 UK personal numbers, +3389 French premium — the ranges SMS-pumping rings rent.
 */
const NEVER = ["+881", "+882", "+883", "+870", "+878", "+979", "+800", "+808", "+449", "+4487", "+4470", "+3389"];

/**
 * NANP (+1) area codes outside the US and Canada: Caribbean and Pacific countries with their own
 * rates, the usual target when a +1 number is pumped. A US or CA site does not reach them.
 */
const NANP_ABROAD = new Set(
  "242 246 264 268 284 340 345 441 473 649 658 664 670 671 684 721 758 767 784 809 829 849 868 869 876".split(" "),
);

/** Country calling codes of the countries a site may pick (ISO 3166 alpha-2 → code). */
/** Written as one string: biome would give each of the 60 pairs its own line. */
const pairs = (list: string): Record<string, string> =>
  Object.fromEntries(list.split(/\s+/).map((p) => p.split("=") as [string, string]));

const CODES = pairs(`US=1 CA=1 RU=7 KZ=7 EG=20 ZA=27 GR=30 NL=31 BE=32 FR=33 ES=34 HU=36 IT=39 RO=40 CH=41 AT=43
  GB=44 DK=45 SE=46 NO=47 PL=48 DE=49 MX=52 AR=54 BR=55 CL=56 CO=57 MY=60 AU=61 ID=62 PH=63 NZ=64 SG=65 TH=66
  JP=81 KR=82 VN=84 CN=86 TR=90 IN=91 PT=351 LU=352 IE=353 IS=354 FI=358 BG=359 LT=370 LV=371 EE=372 AM=374
  BY=375 UA=380 HR=385 SI=386 CZ=420 SK=421 AE=971 IL=972 SA=966 GE=995 UZ=998`);

export const PHONE_COUNTRIES: ReadonlySet<string> = new Set(Object.keys(CODES));

/** Whether an E.164 number belongs to `country` (shared codes split: +1, +7). */
function inCountry(phone: string, country: string): boolean {
  const code = CODES[country];
  if (!code || !phone.startsWith(`+${code}`)) return false;
  const rest = phone.slice(1 + code.length);
  if (code === "1") return !NANP_ABROAD.has(rest.slice(0, 3));
  if (country === "KZ") return rest.startsWith("6") || rest.startsWith("7");
  if (country === "RU") return !rest.startsWith("6") && !rest.startsWith("7");
  return true;
}

/**
 * SQL for column `col` with what normalisePhone strips (spaces, dashes, brackets, dots) removed, so
 * a stored "+44 7700 900123" compares equal to the E.164 "+447700900123". `col` is fixed SQL text.
 */
export const phoneDigitsSql = (col: string) =>
  `replace(replace(replace(replace(replace(${col}, ' ', ''), '-', ''), '(', ''), ')', ''), '.', '')`;

/** May a site whose allow-list is `countries` text or call `phone` (E.164)? */
export function phoneAllowed(phone: string, countries: readonly string[]): boolean {
  if (!E164.test(phone) || NEVER.some((p) => phone.startsWith(p))) return false;
  return countries.some((c) => inCountry(phone, c));
}

/** Time zones and currencies that name one country: how a site's country is guessed when unset. */
const ZONES = pairs(`Europe/London=GB Europe/Dublin=IE Europe/Paris=FR Europe/Berlin=DE Europe/Madrid=ES
  Europe/Rome=IT Europe/Amsterdam=NL Europe/Brussels=BE Europe/Lisbon=PT Europe/Vienna=AT Europe/Zurich=CH
  Europe/Stockholm=SE Europe/Oslo=NO Europe/Copenhagen=DK Europe/Helsinki=FI Europe/Warsaw=PL Europe/Prague=CZ
  Europe/Moscow=RU Europe/Kyiv=UA Europe/Kiev=UA Asia/Tokyo=JP Asia/Kolkata=IN Australia/Sydney=AU
  Australia/Melbourne=AU America/Toronto=CA America/Vancouver=CA`);
const CURRENCIES = pairs(`GBP=GB USD=US RUB=RU JPY=JP CAD=CA AUD=AU CHF=CH SEK=SE NOK=NO DKK=DK PLN=PL CZK=CZ INR=IN
  BRL=BR NZD=NZ UAH=UA`);

/**
 * The site's country: its `country` setting; unset, the country its time zone names (Europe/London
 * → GB), else its currency's (GBP → GB; EUR names no country). Null when neither tells, and then
 * no number is allowed until the merchant sets one: a wrong guess would cost money.
 */
export function siteCountry(s: { timeZone: string; currency: string; settings: { country: string } }): string | null {
  const set = s.settings.country.toUpperCase();
  if (PHONE_COUNTRIES.has(set)) return set;
  return ZONES[s.timeZone] ?? CURRENCIES[s.currency.toUpperCase()] ?? null;
}

/** The countries a site texts and calls: its `phoneCountries` setting, else its own country. */
export function phoneCountries(s: {
  timeZone: string;
  currency: string;
  settings: { country: string; phoneCountries: string[] };
}): string[] {
  const listed = s.settings.phoneCountries.map((c) => String(c).toUpperCase()).filter((c) => PHONE_COUNTRIES.has(c));
  if (listed.length > 0) return listed;
  const own = siteCountry(s);
  return own ? [own] : [];
}
